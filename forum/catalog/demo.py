"""Demo products and reviews, made from code with the seeded random generator passed in (nothing downloaded).

Reviews go through the real services (submit_review, the moderation
transition), so the moderation log, the mails and the numbers are exactly
what real use would produce. Every state appears: published (many low ratings
among them: we never suppress by sentiment), pending, rejected with reasons,
withdrawn, a replacement awaiting approval and an approved replacement.
Loading twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select

from forum.demo import DEMO_DOMAIN
from forum.extensions import db
from forum.models import User
from moderation import services as moderation

from . import services
from .models import Product, Review

# (sku, name, description, category)
PRODUCTS = [
    (
        "CAB-USBC-C-1M",
        "USB-C to USB-C cable, 1 m, 60 W",
        "Braided USB 2.0 cable for charging laptops and phones up to 60 W.",
        "cable",
    ),
    (
        "CAB-USBC-C-2M-240",
        "USB-C to USB-C cable, 2 m, 240 W",
        "USB4-certified, 40 Gbit/s, charges at up to 240 W. E-marker chip.",
        "cable",
    ),
    (
        "CAB-USBA-C-1M",
        "USB-A to USB-C cable, 1 m",
        "For older chargers and computers. 3 A, USB 3.2 Gen 1.",
        "cable",
    ),
    (
        "CAB-LTG-1M",
        "USB-C to Lightning cable, 1 m",
        "MFi-certified cable for fast charging iPhones.",
        "cable",
    ),
    (
        "CAB-HDMI21-2M",
        "HDMI 2.1 cable, 2 m, 8K",
        "Ultra High Speed certified, 48 Gbit/s, 4K at 120 Hz and 8K at 60 Hz.",
        "cable",
    ),
    ("CAB-HDMI-5M", "HDMI cable, 5 m", "High Speed HDMI with Ethernet, 4K at 60 Hz.", "cable"),
    ("CAB-DP14-2M", "DisplayPort 1.4 cable, 2 m", "VESA-certified, HBR3, 8K at 60 Hz with DSC.", "cable"),
    (
        "CAB-CAT6A-10M",
        "Cat 6a network cable, 10 m",
        "S/FTP shielded patch cable, 10 Gbit/s, snagless boots.",
        "cable",
    ),
    ("CAB-AUX-35-1M", "3.5 mm audio cable, 1 m", "Stereo jack to jack, gold-plated contacts.", "cable"),
    ("CAB-OPT-2M", "Optical audio cable (Toslink), 2 m", "For soundbars and AV receivers.", "cable"),
    (
        "ADP-USBC-HDMI",
        "USB-C to HDMI adapter",
        "4K at 60 Hz, HDR, works with DisplayPort Alt Mode laptops.",
        "adapter",
    ),
    (
        "ADP-USBC-HUB7",
        "USB-C hub, 7 in 1",
        "HDMI 4K, 3 x USB-A, SD and microSD, 100 W pass-through charging.",
        "adapter",
    ),
    (
        "ADP-USBC-ETH",
        "USB-C to Gigabit Ethernet adapter",
        "Realtek chipset, driverless on most systems.",
        "adapter",
    ),
    ("ADP-USBC-35", "USB-C to 3.5 mm headphone adapter", "With DAC, 24-bit/96 kHz.", "adapter"),
    ("ADP-DP-HDMI", "DisplayPort to HDMI adapter", "Passive, 4K at 30 Hz.", "adapter"),
    ("ADP-TRAVEL-UK", "Travel adapter, UK/EU/US/AU", "With 2 USB-A and 1 USB-C port, 20 W.", "adapter"),
    (
        "CHG-GAN-65",
        "65 W GaN charger, 2 x USB-C, 1 x USB-A",
        "Small enough for a jacket pocket. PD 3.0 and PPS.",
        "adapter",
    ),
    (
        "MON-24-FHD",
        '24" Full HD monitor, IPS, 75 Hz',
        "1920 x 1080, HDMI and VGA, tilt stand, VESA 100.",
        "monitor",
    ),
    (
        "MON-27-QHD",
        '27" QHD monitor, IPS, 165 Hz',
        "2560 x 1440, 1 ms, FreeSync Premium, height-adjustable stand.",
        "monitor",
    ),
    (
        "MON-27-4K-USBC",
        '27" 4K monitor with USB-C, 90 W',
        "3840 x 2160, factory calibrated, USB-C with 90 W charging and a KVM switch.",
        "monitor",
    ),
    ("MON-34-UW", '34" ultrawide curved monitor', "3440 x 1440, 144 Hz, 1500R curve, HDR400.", "monitor"),
    (
        "MON-ARM-DUAL",
        "Dual monitor arm",
        "Gas spring, for screens 17 to 32 inches, up to 9 kg each.",
        "monitor",
    ),
    (
        "AUD-ANC-OVER",
        "Wireless noise-cancelling headphones",
        "Over-ear, 30 hours battery, multipoint Bluetooth 5.3.",
        "audio",
    ),
    (
        "AUD-EARBUDS",
        "True wireless earbuds",
        "ANC, IPX4, 6 + 24 hours with the case, wireless charging.",
        "audio",
    ),
    (
        "AUD-WIRED-IEM",
        "Wired in-ear monitors",
        "Dual driver, detachable 2-pin cable, three sizes of tips.",
        "audio",
    ),
    (
        "AUD-SPK-BT",
        "Portable Bluetooth speaker",
        "IP67, 12 hours, pairs with a second speaker for stereo.",
        "audio",
    ),
    (
        "AUD-SOUNDBAR",
        "Soundbar with wireless subwoofer",
        "2.1 channels, HDMI eARC, optical input, Dolby Audio.",
        "audio",
    ),
    (
        "AUD-USB-MIC",
        "USB condenser microphone",
        "Cardioid, 24-bit/48 kHz, headphone monitoring, desk stand.",
        "audio",
    ),
    (
        "AUD-DAC-AMP",
        "USB DAC and headphone amplifier",
        "Drives headphones up to 300 ohm, balanced 4.4 mm output.",
        "audio",
    ),
    (
        "AUD-HEADSET-USB",
        "USB headset for calls",
        "Noise-cancelling boom microphone, mute button on the cable.",
        "audio",
    ),
]

# Phrases by category and by how the customer felt (rating 1-2, 3, 4-5).
FEELINGS = {
    "cable": {
        "low": [
            "Stopped charging after {weeks} weeks; the connector is loose at the {end} end.",
            "The braid frayed near the plug within a month.",
            "Only charges at {slow} W with my laptop although the box says more.",
            "My monitor flickers with this cable; the old one was fine.",
            "Much stiffer than it looks in the photos, it pulls my phone off the desk.",
        ],
        "mid": [
            "Does what it says, nothing more. A bit shorter than I expected.",
            "Works, but the plug is too wide for my phone case.",
            "Fine for charging. Data transfers are slower than I hoped.",
        ],
        "high": [
            "Charges my laptop at full speed and feels solid.",
            "Been using it daily for {months} months, still like new.",
            "Finally a cable that stays in the port. Good strain relief.",
            "4K at 120 Hz works perfectly between my console and TV.",
        ],
    },
    "adapter": {
        "low": [
            "Gets very hot after {minutes} minutes and then disconnects.",
            "Drops the connection whenever the laptop wakes from sleep.",
            "The HDMI port only gives me 30 Hz, not 60 Hz as advertised.",
            "Stopped working after {weeks} weeks. Support asked me to send a video first.",
        ],
        "mid": [
            "Works with my work laptop but not with my tablet.",
            "All ports work, but it is bigger than I thought and the cable is short.",
            "Does the job. The status light is far too bright at night.",
        ],
        "high": [
            "Plug and play on Windows, macOS and Linux.",
            "Replaced a whole docking station for me; everything works with one cable.",
            "Small, cool and reliable. I take it everywhere.",
        ],
    },
    "monitor": {
        "low": [
            "Arrived with {pixels} dead pixels near the centre.",
            "Noticeable backlight bleed in the corners; distracting in dark scenes.",
            "The stand wobbles every time I type.",
            "Turned off by itself several times a day after the second week.",
        ],
        "mid": [
            "Good picture, but the built-in speakers are barely usable.",
            "Colours are great after calibration; out of the box too blue.",
            "Nice screen, but the menu buttons are awkward to reach.",
        ],
        "high": [
            "Sharp, bright and the USB-C charging means one cable for my laptop.",
            "Smooth for games and the colours are accurate for photo work.",
            "No dead pixels, very even backlight. Happy with it.",
        ],
    },
    "audio": {
        "low": [
            "The left side cut out after {weeks} weeks.",
            "Noise cancelling creates a pressure feeling and a faint hiss.",
            "Connection drops whenever my phone is in my back pocket.",
            "Battery lasts about {hours} hours, nowhere near what is claimed.",
        ],
        "mid": [
            "Sound is good, comfort is average: my ears hurt after two hours.",
            "Decent for the price. The app is clumsy.",
            "Clear calls, but the bass is a bit thin.",
        ],
        "high": [
            "Excellent sound and the battery really lasts all week.",
            "Comfortable for long flights and the noise cancelling is superb.",
            "Clear, detailed sound. Colleagues say I sound better on calls too.",
        ],
    },
}
TITLES = {
    "low": [
        "Disappointed",
        "Broke quickly",
        "Not as described",
        "Would not buy again",
        "Returned it",
        "Poor quality",
    ],
    "mid": ["It's okay", "Does the job", "Mixed feelings", "Fine for the price", "Average"],
    "high": ["Great value", "Exactly what I needed", "Very happy", "Recommended", "Works perfectly", "Solid"],
}
# Reviews a moderator rejects, each for a reason about its content (never its rating).
REJECTED = [
    (
        "spam",
        5,
        "BEST PRICE!!!",
        "Get this and 100 other gadgets at half price at cheap-gadgets.example, use code SAVE50!!!",
    ),
    (
        "personal_information",
        2,
        "Delivery problem",
        "The courier left it with my neighbour Jane Smith at 14 Elm Road, phone 07700 900123. Call her if you want proof.",
    ),
    (
        "off_topic",
        1,
        "Rude driver",
        "The delivery driver was rude and parked on my lawn. Nothing to do with the product itself.",
    ),
    (
        "abusive",
        1,
        "Rubbish",
        "Whoever designed this is a complete idiot and should be fired. [rest of the insult removed here]",
    ),
    (
        "fake",
        5,
        "Amazing amazing amazing",
        "I have not received it yet but I am sure it is the best product ever made, five stars.",
    ),
]
TARGET_REVIEWS = (3, 9)  # reviews per product: between these


def _bucket(rating: int) -> str:
    return "low" if rating <= 2 else "mid" if rating == 3 else "high"


def _rating(rng) -> int:
    # Real shops see many 5s and a good share of 1s and 2s; we publish them all.
    return rng.choices([1, 2, 3, 4, 5], weights=[18, 12, 14, 24, 32])[0]


def _review_text(rng, category: str, rating: int) -> tuple[str, str]:
    bucket = _bucket(rating)
    phrases = rng.sample(
        FEELINGS[category][bucket], k=min(len(FEELINGS[category][bucket]), rng.randint(1, 3))
    )
    values = dict(
        weeks=rng.randint(2, 9),
        months=rng.randint(2, 14),
        end=rng.choice(["USB-C", "laptop", "phone"]),
        slow=rng.choice([15, 18, 27]),
        minutes=rng.randint(10, 40),
        pixels=rng.randint(2, 5),
        hours=rng.randint(3, 9),
    )
    sentences = [p.format(**values) for p in phrases]
    if rng.random() < 0.35:
        sentences.append(
            rng.choice(
                [
                    "Bought it for my home office.",
                    "It was a present for my son.",
                    "Ordered two, both behave the same.",
                    "Delivery was quick.",
                    "Compared it with a more expensive brand in the shop.",
                ]
            )
        )
    if rng.random() < 0.25:
        # Longer reviews with paragraphs, as people write them.
        body = " ".join(sentences[:1]) + "\n\n" + " ".join(sentences[1:] or ["That's all, really."])
        if rng.random() < 0.3:
            body += "\n\nUpdate after a few weeks: " + rng.choice(FEELINGS[category][bucket]).format(**values)
    else:
        body = " ".join(sentences)
    return rng.choice(TITLES[bucket]), body


def _demo_members() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.email.like(f"member%@{DEMO_DOMAIN}"), User.role == "member")
            .order_by(User.id)
        )
    )


def load_catalog(rng):
    result = services.save_products((sku, name, description, True) for sku, name, description, _ in PRODUCTS)
    yield (
        f"Products: {result['created']} created, {result['updated']} updated, "
        f"{result['unchanged']} unchanged."
    )

    demo_skus = [sku for sku, *_ in PRODUCTS]
    existing = db.session.scalar(
        select(func.count(Review.id)).join(Product).where(Product.sku.in_(demo_skus))
    )
    if existing:
        yield f"Reviews: {existing} already there, none added."
        return
    members = _demo_members()
    moderator = db.session.scalar(select(User).where(User.email == f"moderator@{DEMO_DOMAIN}"))
    if len(members) < TARGET_REVIEWS[1] + 1 or moderator is None:
        yield "Reviews: skipped (the demo members and moderator are missing)."
        return

    products = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(demo_skus)))}
    counts = dict.fromkeys(
        ["published", "pending", "rejected", "withdrawn", "replacement pending", "replaced"], 0
    )
    rejections = list(REJECTED)
    for index, (sku, _name, _description, category) in enumerate(PRODUCTS):
        product = products[sku]
        authors = rng.sample(members, k=rng.randint(*TARGET_REVIEWS))
        for position, author in enumerate(authors):
            if rejections and index % 6 == 0 and position == 0:
                reason, rating, title, body = rejections.pop(0)
                review = services.submit_review(author, product, rating, title, body)
                moderation.reject_submission(
                    "review",
                    review.id,
                    moderator,
                    reason=reason,
                    note="Please keep reviews about the product itself." if reason == "off_topic" else None,
                )
                counts["rejected"] += 1
                continue
            rating = _rating(rng)
            title, body = _review_text(rng, category, rating)
            review = services.submit_review(author, product, rating, title, body)
            if position == len(authors) - 1 and index % 3 == 1:
                counts["pending"] += 1  # waits in the moderation queue
                continue
            moderation.approve_submission("review", review.id, moderator)
            counts["published"] += 1
            if index % 10 == 4 and position == 0:
                services.withdraw_review(author, review.id)
                counts["withdrawn"] += 1
                counts["published"] -= 1
            elif index % 10 == 7 and position == 0:
                # The author changed their mind: a replacement, published once approved.
                new_rating = min(5, rating + 2)
                title, body = _review_text(rng, category, new_rating)
                replacement = services.submit_review(author, product, new_rating, "Update: " + title, body)
                if index % 20 == 7:
                    counts["replacement pending"] += 1
                else:
                    moderation.approve_submission("review", replacement.id, moderator)
                    counts["replaced"] += 1
    yield "Reviews: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + "."
