"""Image names in an OCI bundle (polyarch.adapters.ocibundle) for either image store."""

from __future__ import annotations


def test_names_get_a_tag_for_the_classic_store_and_a_full_form_for_containerd():
    from polyarch.adapters.ocibundle import full_name, repo_tag

    assert repo_tag("lumen-chatbot") == "lumen-chatbot:latest"
    assert repo_tag("127.0.0.1:5000/x/app") == "127.0.0.1:5000/x/app:latest"
    assert repo_tag("redis:7") == "redis:7"
    assert full_name("redis") == "docker.io/library/redis:latest"
    assert full_name("127.0.0.1:5000/x/app:2") == "127.0.0.1:5000/x/app:2"
