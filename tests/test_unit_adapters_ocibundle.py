"""Image names in an OCI bundle (polyarch.adapters.ocibundle) for either image store."""

from __future__ import annotations


def test_names_get_a_tag_for_the_classic_store_and_a_full_form_for_containerd():
    from polyarch.adapters.ocibundle import containerd_names, repo_tag

    assert repo_tag("lumen-chatbot") == "lumen-chatbot:latest"
    assert repo_tag("127.0.0.1:5000/x/app") == "127.0.0.1:5000/x/app:latest"
    assert repo_tag("redis:7") == "redis:7"
    assert containerd_names("redis") == ("docker.io/library/redis:latest", "latest")
    assert containerd_names("127.0.0.1:5000/x/app:2") == ("127.0.0.1:5000/x/app:2", "2")
    assert containerd_names(f"redis@sha256:{'a' * 64}") == (f"docker.io/library/redis@sha256:{'a' * 64}", "a" * 64)
