"""Fixed vocabularies of the sample generator: the product's world, not its people."""

from __future__ import annotations

APP_HOST = "app.erx-collab.example"
SERVER_UTC_OFFSET_HOURS = -5

SPECIALTIES = (
    "Family Medicine", "Internal Medicine", "Pediatrics", "Dentistry", "Cardiology",
    "Dermatology", "Psychiatry", "Orthopedics", "Obstetrics and Gynecology", "Oral Surgery",
    "Endocrinology", "Urgent Care",
)  # fmt: skip
TITLES = (
    "MD",
    "DO",
    "NP",
    "PA",
    "DDS",
    "DMD",
    "PharmD",
    "RN",
    "Office Manager",
    "Medical Assistant",
)
PRESCRIBER_TITLES = frozenset({"MD", "DO", "NP", "PA", "DDS", "DMD"})
GENDERS = ("female", "male", "nonbinary", "undisclosed")
PLANS = ("free", "basic", "pro", "enterprise")
PLAN_WEIGHTS = (40, 30, 25, 5)
PLAN_PRICE_CENTS = {"free": 0, "basic": 2900, "pro": 7900, "enterprise": 29900}
CARD_BRANDS = ("visa", "mastercard", "amex", "discover")
ROLES = ("viewer", "editor", "commenter")
TIMEZONE_OFFSETS = ("-05:00", "-06:00", "-07:00", "-08:00", "-04:00", "Z", "+00:00")
TIMEZONE_WEIGHTS = (35, 25, 10, 18, 4, 6, 2)
STATES = (
    "FL", "CA", "TX", "NY", "GA", "NC", "OH", "PA", "IL", "MI", "NJ", "VA", "WA", "AZ", "MA",
    "TN", "CO", "MN", "WY", "NM", "NV", "MT", "NH", "NE",
)  # fmt: skip
STATE_WEIGHTS = (
    30, 20, 16, 14, 8, 7, 6, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1,
)  # fmt: skip
# Three-digit ZIP prefixes with 20,000 people or fewer (HIPAA Safe Harbor), by state.
SPARSE_ZIP3 = {
    "NH": "036", "MT": "059", "NY": "102", "MN": "556", "NE": "692", "TX": "790",
    "WY": "821", "NM": "878", "NV": "893",
}  # fmt: skip
AREA_CODES = (
    "305", "786", "954", "561", "407", "813", "212", "718", "415", "310", "713", "512", "312",
    "404", "704", "216", "215", "313", "201", "703", "206", "602", "617", "615", "303", "612",
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com")
DRUGS = (
    "amoxicillin", "lisinopril", "atorvastatin", "metformin", "amlodipine", "omeprazole",
    "hydrocodone", "ibuprofen 800mg", "azithromycin", "gabapentin", "sertraline",
    "levothyroxine", "prednisone", "chlorhexidine rinse", "clindamycin", "alprazolam",
)  # fmt: skip
SEARCH_TOPICS = (
    "amoxicillin dosage", "drug interactions warfarin", "prior authorization form",
    "pharmacy near 33131", "formulary tier 2", "controlled substance refill rules",
    "epcs two factor setup", "fax referral template", "dental antibiotic prophylaxis",
    "pediatric dosing chart", "cvs pharmacy", "walgreens", "insurance eligibility check",
)  # fmt: skip
WEB_SEARCH_TERMS = (
    "e prescribing software", "epcs software for dentists", "hipaa compliant file sharing",
    "electronic prescription florida", "erx collaboration app", "best eprescribing for small practice",
)  # fmt: skip
SURVEY_COMMENTS = (
    "Please add dark mode.", "The new dashboard is much faster.", "Refills take too many clicks.",
    "Great support team, thank you!", "Search should remember my last pharmacy.",
    "", "Works well on my iPad.",
)  # fmt: skip
TICKET_SUBJECTS = (
    "Cannot send prescription", "Billing question", "Password reset", "EPCS token not working",
    "Refill request failing", "Update my credentials", "File upload stuck",
)  # fmt: skip
FILE_KINDS = ("pdf", "jpg", "png", "docx", "xlsx", "heic")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.6668.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.2792.79",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
)  # fmt: skip
BOT_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
    "python-requests/2.32.3",
)  # fmt: skip
BOT_PATHS = ("/", "/robots.txt", "/login", "/pricing", "/sitemap.xml", "/wp-login.php", "/.env")
STATIC_PATHS = ("/static/app.js", "/static/app.css", "/favicon.ico", "/static/logo.svg")
