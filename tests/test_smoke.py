def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Tell us once" in response.get_data(as_text=True)


def test_healthz_reports_database_ok_and_no_dispatch_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "degraded", "database": "ok",
                             "reasons": ["No dispatch worker has run: nothing is being sent to departments."],
                             "worker": {"state": "none", "running": 0, "last_beat": None},
                             "departments": {"circuit_open": [], "endpoint_disabled": []},
                             "dead_letters": {"last_day": 0, "by_department": {}}}
