import httpx

from tests.helpers import seed_site


def test_server_serves_snippet_and_session(engine, server):
    site = seed_site(engine, pool_size=2)
    js = httpx.get(f"{server.url}/t/{site.key}.js")
    assert js.status_code == 200
    r = httpx.post(
        f"{server.url}/t/v1/session", content=f'{{"site":"{site.key}","url":"https://a.example/"}}'
    )
    assert r.json()["number"] in site.pool
