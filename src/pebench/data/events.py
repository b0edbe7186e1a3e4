"""The 40 PEBench events: the paper's names and keywords, our own descriptions, and a
visual identity (layout, palette, pattern, prop glyph) that the procedural renderer draws.

The descriptions are ours (the paper's are not reproduced); each uses the event's keywords
so that a keyword-based judge can recognise it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pebench.data.pools import load_pools

# name -> (description, look); look = (indoor, top colour, bottom colour, horizon 0-1,
# pattern, prop glyph, prop colour)
_EVENTS: dict[str, tuple[str, tuple]] = {
    "media interview": (
        "A professional interview for local media in a well-lit studio, with a small crew and a casual setup that keeps the conversation free of distractions.",
        (True, "#4a5a78", "#2b2b33", 0.62, "vstripes", "square", "#f2f2f2")),
    "park jogging": (
        "Jogging outdoors in a serene park, with trees lining the walking paths and people exercising and relaxing in peaceful nature.",
        (False, "#8fd0ff", "#4caf50", 0.55, "none", "circle", "#1b5e20")),
    "farm visit": (
        "A visit to a farm with green fields and farm animals, a peaceful and natural place for learning about agriculture outdoors.",
        (False, "#b3e5fc", "#9ccc65", 0.45, "hstripes", "square", "#8d6e63")),
    "dinner with friends": (
        "An informal dinner with friends and family in a cozy restaurant, sharing a meal and unwinding on a relaxed evening.",
        (True, "#7b3f2a", "#4e2a1e", 0.6, "dots", "circle", "#ffcc80")),
    "landmark visit": (
        "A tourist visit to a famous city landmark, a cultural break from routine in a bustling atmosphere and fine weather.",
        (False, "#ffd180", "#9e9e9e", 0.6, "none", "triangle", "#6d4c41")),
    "zoo visit": (
        "Exploring a local zoo, a family-friendly place where animals live in wildlife habitats and visitors enjoy learning about nature.",
        (False, "#aed581", "#c8a165", 0.5, "dots", "diamond", "#ff8f00")),
    "shopping mall": (
        "Shopping in a bustling, brightly lit mall with many stores and people, purchasing things in a relaxing atmosphere.",
        (True, "#e1bee7", "#cfd8dc", 0.58, "grid", "bar", "#ab47bc")),
    "public lecture": (
        "A formal public lecture at a university community center, where attendees follow a professional presentation about learning and education.",
        (True, "#3e2723", "#6d4c41", 0.65, "none", "bar", "#fff59d")),
    "gym workout": (
        "An energetic workout in a spacious gym full of fitness equipment, doing physical exercises with focus in a lively environment.",
        (True, "#546e7a", "#212121", 0.6, "grid", "cross", "#ff5252")),
    "dance event": (
        "A vibrant dance event at a club with music, colorful lights and people socializing in a festive and lively mood.",
        (True, "#1a0033", "#311b92", 0.6, "dots", "star", "#ff4081")),
    "coffee shop reading": (
        "Reading in a cozy coffee shop, a quiet and relaxed break with ambient light, a laptop for work and friends nearby.",
        (True, "#a1887f", "#5d4037", 0.6, "hstripes", "circle", "#fff3e0")),
    "airport waiting": (
        "Waiting in a calm, modern airport terminal for a flight, with organized passengers travelling and planes on the runway.",
        (True, "#b0bec5", "#eceff1", 0.5, "vstripes", "cross", "#1565c0")),
    "concert attendance": (
        "Attending a lively concert with live music, a spirited crowd and an audience full of energy enjoying the performance.",
        (True, "#000000", "#4a148c", 0.7, "none", "star", "#ffeb3b")),
    "beach relaxing": (
        "Relaxing on a serene beach at the seaside, with gentle waves, a clear sky and a peaceful family break outdoors.",
        (False, "#4fc3f7", "#ffe082", 0.5, "waves", "circle", "#0288d1")),
    "business meeting": (
        "A formal business meeting in a corporate conference room with windows and a city view, a productive and professional discussion.",
        (True, "#cfd8dc", "#37474f", 0.6, "grid", "square", "#263238")),
    "museum tour": (
        "A tour of a museum with historical and artistic exhibits under spotlights and dim lighting, a reflective atmosphere of culture.",
        (True, "#263238", "#5d4037", 0.62, "none", "ring", "#ffd54f")),
    "car driving": (
        "Driving a car on a scenic road at sunset, travelling through picturesque landscapes between the city and the countryside.",
        (False, "#ff7043", "#424242", 0.5, "hstripes", "bar", "#fdd835")),
    "grocery shopping": (
        "Grocery shopping for essentials in an organized store with bright lighting, an efficient and comfortable shopping experience.",
        (True, "#fafafa", "#b2dfdb", 0.55, "grid", "circle", "#43a047")),
    "marathon running": (
        "Running a marathon event through city streets in clear weather, with cheering crowds and the energy of a fitness community.",
        (False, "#81d4fa", "#78909c", 0.5, "vstripes", "triangle", "#e53935")),
    "art gallery visit": (
        "A calm visit to an art gallery, viewing artwork and exhibits in soft lighting, an introspective atmosphere of culture and reflection.",
        (True, "#f5f5f5", "#546e7a", 0.6, "none", "square", "#3949ab")),
    "family gathering": (
        "A friendly family gathering at home, warmly lit and welcoming, with mementos around and a comfortable atmosphere of being together.",
        (True, "#ffb74d", "#8d6e63", 0.6, "checker", "ring", "#c62828")),
    "bookstore browsing": (
        "Browsing books in a quaint, quiet bookstore, exploring the shelves at leisure in a relaxed mood for reading.",
        (True, "#6d4c41", "#3e2723", 0.75, "vstripes", "bar", "#e6ee9c")),
    "mountain cabin retreat": (
        "A peaceful retreat in a mountain cabin surrounded by trees, with tranquil views and refreshing, serene nature.",
        (False, "#90caf9", "#2e7d32", 0.5, "none", "triangle", "#ffffff")),
    "office working": (
        "Working at a desk in a modern, quiet office with windows, natural light and a conference room, focused and productive.",
        (True, "#e3f2fd", "#90a4ae", 0.6, "grid", "square", "#0d47a1")),
    "train commute": (
        "A busy train commute, with passengers seated and standing as they travel through their organized daily routine.",
        (True, "#9e9e9e", "#616161", 0.55, "hstripes", "ring", "#ff6f00")),
    "mountain hiking": (
        "Hiking a mountain trail under a clear sky, with a scenic view and the peaceful, refreshing nature of the outdoors.",
        (False, "#64b5f6", "#795548", 0.45, "none", "triangle", "#9e9e9e")),
    "school presentation": (
        "A formal school presentation in a classroom, where attentive students share knowledge in an academic setting for learning and education.",
        (True, "#2e7d32", "#a1887f", 0.65, "none", "bar", "#ffffff")),
    "restaurant dining": (
        "Dining at an upscale restaurant with dim lighting and an elegant, refined and intimate ambiance for a gourmet meal.",
        (True, "#4a0e0e", "#1c1c1c", 0.6, "dots", "diamond", "#ffd700")),
    "night sky stargazing": (
        "Stargazing outdoors under a clear night sky, with telescopes pointed at the stars in a quiet, magical and peaceful event.",
        (False, "#0b1640", "#1b2a1b", 0.7, "dots", "star", "#ffffff")),
    "snowshoeing": (
        "Snowshoeing on a quiet forest trail in winter snow, leaving footsteps through peaceful and serene nature.",
        (False, "#cfd8dc", "#ffffff", 0.45, "none", "triangle", "#1b5e20")),
    "city bike ride": (
        "A dynamic bike ride through city streets and park trails, with urban scenery, buildings and patches of nature.",
        (False, "#b3e5fc", "#8d8d8d", 0.55, "grid", "ring", "#ef6c00")),
    "fashion show": (
        "A glamorous fashion show with models on the runway under a spotlight, elegant trends on display for fashionable observation.",
        (True, "#212121", "#e0e0e0", 0.6, "vstripes", "diamond", "#ec407a")),
    "fishing trip": (
        "A serene fishing trip at a lake, surrounded by greenery and scenic nature, a peaceful and relaxing time outdoors.",
        (False, "#a5d6a7", "#1e88e5", 0.5, "waves", "cross", "#5d4037")),
    "train station waiting": (
        "Waiting on a calm train station platform, where quiet passengers travel in an organized routine before departure.",
        (True, "#bdbdbd", "#5d4037", 0.6, "vstripes", "bar", "#fbc02d")),
    "charity event": (
        "A warm and friendly charity event in a decorated community hall, with guests mingling in a generous mood.",
        (True, "#f8bbd0", "#6a1b9a", 0.6, "dots", "star", "#7b1fa2")),
    "nature photography": (
        "Nature photography outdoors in a quiet forest park, capturing the scenic beauty of a peaceful landscape.",
        (False, "#c5e1a5", "#33691e", 0.5, "none", "circle", "#fff176")),
    "library studying": (
        "Studying in a quiet library between bookshelves, focused on reading and learning in soft lighting and an introspective atmosphere.",
        (True, "#4e342e", "#d7ccc8", 0.7, "vstripes", "square", "#8d6e63")),
    "boat trip": (
        "A relaxing boat trip on a river and lake, with scenic water, a clear sky and a peaceful landscape of nature.",
        (False, "#81d4fa", "#0277bd", 0.55, "waves", "triangle", "#ffffff")),
    "biking trail": (
        "Riding a bike on a nature trail among trees, following the path outdoors in scenic sunlight, peaceful and refreshing.",
        (False, "#fff59d", "#558b2f", 0.5, "hstripes", "ring", "#3e2723")),
    "city walk": (
        "A lively city walk through bustling downtown streets, exploring shops among people in a dynamic urban scene.",
        (False, "#90a4ae", "#616161", 0.6, "grid", "square", "#ffca28")),
}


@dataclass(frozen=True)
class EventLook:
    indoor: bool
    top: str
    bottom: str
    horizon: float
    pattern: str
    glyph: str
    glyph_colour: str


@dataclass(frozen=True)
class Event:
    event_id: int
    name: str
    keywords: tuple[str, ...]
    description: str
    look: EventLook


def all_events() -> list[Event]:
    """All 40 PEBench events in the paper's order, with descriptions and looks."""
    events = []
    for i, (name, keywords) in enumerate(load_pools().events):
        description, look = _EVENTS[name]
        events.append(Event(i, name, keywords, description, EventLook(*look)))
    return events
