"""Purposes of use, and consent receipts in the Kantara Initiative Consent Receipt 1.1 shape.

Every purpose is off until the person grants it. Each change is kept in an append-only history and
answered with a receipt the person can list and download again. Revoking takes effect at once for every
later computation; figures already published stay as they are, since they are anonymous aggregates in
which no one can be told apart (see docs/self-data.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.emissions.coaching import Lang
from app.settings import Settings


@dataclass(frozen=True)
class Purpose:
    id: str
    title: dict[Lang, str]
    description: dict[Lang, str]
    category: str
    pii: tuple[str, ...]
    third_party: str | None


PURPOSES: dict[str, Purpose] = {
    p.id: p
    for p in (
        Purpose(
            id="territory_statistics",
            title={"fr": "Statistiques du territoire", "en": "Territory statistics"},
            description={
                "fr": "Vos trajets comptent, avec ceux des autres, dans les statistiques anonymes que "
                "l'agglomération utilise pour organiser les transports. Aucun chiffre publié ne porte sur moins "
                "de 11 personnes, et les débuts et fins de trajets dans vos zones privées n'y entrent jamais.",
                "en": "Your trips count, with everyone else's, in the anonymous statistics the territory uses "
                "to plan transport. No published figure covers fewer than 11 people, and the ends of trips "
                "inside your privacy zones never enter them.",
            },
            category="Improved performance of a public service",
            pii=("Trip times, transport modes, distances and emissions", "Trip start and end zones"),
            third_party="The territory's mobility operators (aggregates only)",
        ),
        Purpose(
            id="research",
            title={"fr": "Recherche", "en": "Research"},
            description={
                "fr": "Vos trajets pseudonymes peuvent être étudiés par des équipes de recherche publique sur la "
                "mobilité, dans le cadre de conventions qui interdisent toute réidentification.",
                "en": "Your pseudonymous trips may be studied by public research teams working on mobility, "
                "under agreements that forbid any re-identification.",
            },
            category="Research and development",
            pii=("Trips and their legs, with times, modes and simplified paths",),
            third_party="Public research teams under agreement",
        ),
    )
}


def receipt(
    *,
    settings: Settings,
    user_id: uuid.UUID,
    purpose: Purpose,
    granted: bool,
    at: datetime,
    receipt_id: uuid.UUID,
    lang: Lang,
) -> dict[str, Any]:
    """A consent receipt (Kantara Initiative Consent Receipt Specification 1.1), with an extension saying
    whether this receipt records a grant or a withdrawal."""
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "FR",
        "consentTimestamp": int(at.timestamp()),
        "collectionMethod": f"API: PUT /v1/me/consents/{purpose.id}",
        "consentReceiptID": str(receipt_id),
        "language": lang,
        "piiPrincipalId": str(user_id),
        "piiControllers": [
            {
                "piiController": settings.controller_name,
                "contact": settings.controller_contact,
                "address": settings.controller_address,
                "email": settings.controller_email,
                "phone": settings.controller_phone,
            }
        ],
        "policyUrl": settings.privacy_policy_url,
        "services": [
            {
                "service": "Coach CO2",
                "purposes": [
                    {
                        "purpose": purpose.description[lang],
                        "purposeCategory": [purpose.category],
                        "consentType": "EXPLICIT",
                        "piiCategory": list(purpose.pii),
                        "primaryPurpose": False,
                        "termination": "Until withdrawn with PUT /v1/me/consents/"
                        f'{purpose.id} {{"granted": false}}, or the account is erased',
                        "thirdPartyDisclosure": purpose.third_party is not None,
                        "thirdPartyName": purpose.third_party or "",
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "x-coachco2": {"purpose_id": purpose.id, "granted": granted},
    }
