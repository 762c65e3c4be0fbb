"""ISO 4217 currencies the product bills in, with their minor units.

Pure data: the rating engine rounds every line to `minor_units(code)` places and the
Stripe sync multiplies by ``10 ** minor_units(code)`` to get integer minor units.
"""

from __future__ import annotations

# Codes Stripe supports for invoicing, with ISO 4217 exponents. Zero-decimal and
# three-decimal currencies are listed explicitly; everything else has two.
_ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
    "VND", "VUV", "XAF", "XOF", "XPF",
}
_THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}
_TWO_DECIMAL = {
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD",
    "HUF", "IDR", "ILS", "INR", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON",
    "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "ZAR",
}

CURRENCIES: frozenset[str] = frozenset(_ZERO_DECIMAL | _THREE_DECIMAL | _TWO_DECIMAL)
CURRENCY_CHOICES = sorted((code, code) for code in CURRENCIES)


def is_supported(code: str) -> bool:
    return code in CURRENCIES


def minor_units(code: str) -> int:
    """Number of decimal places of the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    if code not in CURRENCIES:
        raise ValueError(f"unsupported currency {code!r}")
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2
