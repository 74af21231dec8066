"""Where a webhook may be sent: http(s) to a public address only (no server-side request forgery).

A subscription's URL is Callwright making requests on a client's say-so: pointed at 127.0.0.1, 10.x, the
cloud's metadata address (169.254.169.254) or the Redis next door, it would turn the webhook sender into a
probe of the private network. So a URL whose host is, or resolves to, an address that is not globally
routable — loopback, private, link-local, shared (CGNAT), multicast, reserved, unspecified, in IPv4 or IPv6,
including IPv4 written as IPv6 (`::ffff:10.0.0.1`) — is refused when the subscription is saved, and again at
each delivery: DNS can change between the two, so a delivery resolves the name once, checks every address,
and connects to the checked one (the name still in the `Host` header and in TLS's SNI and certificate check).

WEBHOOKS_ALLOW_PRIVATE_URLS turns the address check off (the demo and the tests, whose receivers listen on
127.0.0.1); WEBHOOKS_REQUIRE_HTTPS refuses plain http (production: deliveries carry personal data).
"""

import ipaddress
import socket
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhookURL(ValueError):
    """The URL may not receive webhooks; the message says why, in words."""


@dataclass(frozen=True)
class DeliveryTarget:
    """Where to connect for one delivery: `url` (its host may be the checked address) and the `headers` and
    `extensions` that keep the name for the receiver and for TLS."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


def address_refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to `address` (None: a public address)."""
    if isinstance(address, ipaddress.IPv6Address):  # IPv4 inside IPv6: ::ffff:10.0.0.1, 6to4's 2002:a00:1::
        address = address.ipv4_mapped or address.sixtofour or address
    kinds = (
        ("is_unspecified", _("unspecified")),
        ("is_loopback", _("loopback")),
        ("is_link_local", _("link-local")),
        ("is_multicast", _("multicast")),
        ("is_reserved", _("reserved")),
        ("is_private", _("private")),
    )
    for attribute, kind in kinds:
        if getattr(address, attribute):
            return _("%(address)s is a %(kind)s address") % {"address": address, "kind": kind}
    if not address.is_global:  # e.g. 100.64.0.0/10, shared by carriers' NAT
        return _("%(address)s is not a public address") % {"address": address}
    return None


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UnsafeWebhookURL(_("The URL cannot be read: %(error)s.") % {"error": error}) from error
    schemes = ("https",) if settings.WEBHOOKS_REQUIRE_HTTPS else ("https", "http")
    if parsed.scheme not in schemes:
        raise UnsafeWebhookURL(
            _("Webhooks are sent over https only.") if settings.WEBHOOKS_REQUIRE_HTTPS
            else _("Webhooks are sent over http or https only.")
        )  # fmt: skip
    if not parsed.host:
        raise UnsafeWebhookURL(_("The URL has no host."))
    return parsed


def _addresses(parsed: httpx.URL) -> list[IPAddress]:
    """The host's addresses: itself when it is one, else what DNS answers now (each at most once, in order)."""
    try:
        return [ipaddress.ip_address(parsed.host)]
    except ValueError:
        pass
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        answers = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeWebhookURL(_("%(host)s could not be resolved.") % {"host": parsed.host}) from error
    addresses = [ipaddress.ip_address(str(answer[4][0]).partition("%")[0]) for answer in answers]
    return list(dict.fromkeys(addresses))


def checked_addresses(parsed: httpx.URL) -> list[IPAddress]:
    """The host's addresses, all public; UnsafeWebhookURL names the first that is not (a name that answers
    with one private address among public ones is refused: a connection could land on any of them)."""
    addresses = _addresses(parsed)
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            raise UnsafeWebhookURL(
                _("Webhooks go to public addresses only: %(host)s → %(refusal)s.")
                % {"host": parsed.host, "refusal": refusal}
            )
    return addresses


def webhook_url_check(url: str) -> None:
    """Refuse (UnsafeWebhookURL) a URL webhooks may not be sent to: the scheme, and unless
    WEBHOOKS_ALLOW_PRIVATE_URLS, every address its host is or resolves to now."""
    parsed = _parse(url)
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        checked_addresses(parsed)


def delivery_target(url: str) -> DeliveryTarget:
    """Resolve the URL once for a delivery, check it as at save time, and pin the connection to the checked
    address (UnsafeWebhookURL when refused: DNS may have changed since the subscription was saved)."""
    parsed = _parse(url)
    addresses = _addresses(parsed) if settings.WEBHOOKS_ALLOW_PRIVATE_URLS else checked_addresses(parsed)
    if parsed.host in {str(address) for address in addresses} or ":" in parsed.host:
        return DeliveryTarget(url=str(parsed), headers={}, extensions={})  # an address already: nothing to pin
    pinned = parsed.copy_with(host=str(addresses[0]))
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return DeliveryTarget(url=str(pinned), headers={"Host": parsed.netloc.decode("ascii")}, extensions=extensions)
