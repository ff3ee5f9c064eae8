"""An example receiver: a small app a department can run to receive TellUsOnce webhooks.

It verifies each signature and timestamp, reads the CloudEvent, keeps each
event once (by webhook-id) in its own SQLite file, shows an inbox per
department, and acknowledges each event through the department API. For a feed department it
fetches the notifications through that API instead, as the department's own systems would.
It is no part of the service: it shows a department's developers their side, and the demo runs it.
"""
