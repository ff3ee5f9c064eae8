def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Tell us once" in response.get_data(as_text=True)


def test_healthz_reports_database_ok(client):
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
