"""Every model, imported so that ``Base.metadata`` knows all tables."""

from tellusonce.models.audit import AuditEvent
from tellusonce.models.base import Base
from tellusonce.models.citizen import Citizen, EmailToken, PersonDetails, TokenPurpose
from tellusonce.models.consent import ConsentEvent, ConsentEventKind, ConsentGrant, ConsentScope
from tellusonce.models.department import ChannelKind, Department, DepartmentApiKey
from tellusonce.models.inbound import InboundMessage, InboundStatus
from tellusonce.models.journey import ReportJourney
from tellusonce.models.mailout import OutgoingEmail, OutgoingState
from tellusonce.models.notice import ReportNotice
from tellusonce.models.outbox import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryTally,
    Notification,
    NotificationKind,
    NotificationState,
)
from tellusonce.models.report import ChangeReport, Channel, ReportState, Subject
from tellusonce.models.requests import DataRightsRequest, RequestState
from tellusonce.models.sign_in import SignInEvent, SignInMethod
from tellusonce.models.worker import WorkerHeartbeat

__all__ = [
    "AttemptOutcome",
    "AuditEvent",
    "Base",
    "ChangeReport",
    "Channel",
    "ChannelKind",
    "Citizen",
    "ConsentEvent",
    "ConsentEventKind",
    "ConsentGrant",
    "ConsentScope",
    "DataRightsRequest",
    "DeliveryAttempt",
    "DeliveryTally",
    "Department",
    "DepartmentApiKey",
    "EmailToken",
    "InboundMessage",
    "InboundStatus",
    "Notification",
    "NotificationKind",
    "NotificationState",
    "OutgoingEmail",
    "OutgoingState",
    "PersonDetails",
    "ReportJourney",
    "ReportNotice",
    "ReportState",
    "RequestState",
    "SignInEvent",
    "SignInMethod",
    "Subject",
    "TokenPurpose",
    "WorkerHeartbeat",
]
