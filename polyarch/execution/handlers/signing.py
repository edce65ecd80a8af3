"""cosign steps: sign a verified list by digest, check an image's or a bundle's signature."""

from __future__ import annotations

from polyarch.adapters import cosign
from polyarch.adapters.docker.engine import Engine
from polyarch.core import console
from polyarch.core.errors import SignatureError
from polyarch.core.imageref import repository_of
from polyarch.execution.handlers.state import RunState
from polyarch.execution.results import ImageSigned, SignatureVerified, VerifyResult
from polyarch.planning.steps.bundle import VerifyBundleSignature
from polyarch.planning.steps.release import SignImage, VerifySignature


def sign_image(engine: Engine, item: SignImage, state: RunState) -> ImageSigned:
    """Sign by digest the list a Verify step of this run read (so the signature covers what was verified)."""
    verified = state.log.last(VerifyResult, lambda r: r.ref == item.ref)
    index = verified.index if verified is not None else engine.inspect_index(item.ref)
    pinned = f"{repository_of(item.ref)}@{index.digest}"
    cosign.sign_image(pinned, item.key)
    console.done(f"signed {pinned}")
    return ImageSigned(item.ref, index.digest)


def verify_signature(engine: Engine, item: VerifySignature, state: RunState) -> SignatureVerified:
    engine.inspect_index(item.ref)  # a missing tag is said as such, with the tags the registry has
    digest = check_image_signature(item.ref, item.public_key, "nothing was pulled or started")
    return SignatureVerified(item.ref, digest)


def verify_bundle_signature(engine: Engine, item: VerifyBundleSignature, state: RunState) -> None:
    if not item.signature.is_file():
        raise SignatureError(f"{item.bundle.name} has no signature beside it ({item.signature.name}), so it was not loaded.",
                             tip="Copy the bundle with its .sig (package-airtight writes it when [signing] key is set).")
    try:
        with console.status(f"checking the signature of {item.bundle.name}"):
            cosign.verify_blob(item.bundle, item.public_key, item.signature)
    except SignatureError as exc:
        if exc.reason is None:
            raise
        raise SignatureError(f"{item.bundle.name} does not match its signature {item.signature.name} for the key "
                             f"{item.public_key} (cosign: {exc.reason}): it was changed after signing, or signed "
                             "with another key; nothing was loaded.",
                             tip="Get the bundle and its .sig again from whoever packaged it, and check that --key is "
                                 "their public key.") from None
    console.done(f"{item.bundle.name} is signed by the key {item.public_key.name}")


HANDLERS = {
    SignImage: sign_image,
    VerifySignature: verify_signature,
    VerifyBundleSignature: verify_bundle_signature,
}


def check_image_signature(ref: str, public_key, consequence: str) -> str:
    """The digest `ref`'s signature covers, or a SignatureError naming the image, the key and the consequence."""
    try:
        digest = cosign.verify_image(ref, public_key)
    except SignatureError as exc:
        if exc.reason is None:
            raise
        raise SignatureError(f"{ref} is not signed with the key {public_key} (cosign: {exc.reason}); "
                             f"{consequence}.",
                             tip="Use only images published with the project's signing key, or check --key / "
                                 "[signing] public_key.") from None
    console.done(f"{ref} is signed by the key {public_key.name} ({digest})")
    return digest
