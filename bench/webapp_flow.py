"""The HTTP calls of one sales flow of the Flow CRM web app, for bench/run.py and bench/peer_extra.py.

Read from the web app's source (bench/README.md, "The web app's sales flow", has the table with file references):
after the login the web app lands on the dashboard, the user opens the pre-sales screen, picks a customer and
products in the new pre-sale dialog (filtered in the browser: no request), saves, and the list loads again.
The login itself is left out of the mix: a user logs in once for many pre-sales (the token lasts 24 h), and
its argon2/bcrypt cost and the service's login limits (20 attempts a minute per client address) would turn the
mix into a login benchmark; `bench/run.py` measures the login on its own row.
"""

from __future__ import annotations

PRODUCT_SEARCH = "arroz"  # a product search as the products page sends it: a word of ~1 in 12-16 product names

# (method, path) in the order the web app sends them (the requests of one screen go out together).
FLOW: tuple[tuple[str, str], ...] = (
    # The dashboard (the login's default destination): src/services/dashboardService.ts, four loaders at mount.
    ("GET", "/api/products?limit=100"),  # getDashboardMetrics
    ("GET", "/api/customers?limit=100"),
    ("GET", "/api/presales?limit=100"),
    ("GET", "/api/presales?limit=100"),  # getSalesData
    ("GET", "/api/products?limit=10"),  # getRecentActivities
    ("GET", "/api/customers?limit=10"),
    ("GET", "/api/presales?limit=10"),
    ("GET", "/api/products?limit=100"),  # getInventoryAlerts
    ("GET", "/api/customers?page=1&limit=100"),  # Dashboard.tsx: useCustomers for its new pre-sale dialog
    ("GET", "/api/products?page=1&limit=100"),  # Dashboard.tsx: useProducts
    ("GET", "/api/payment-methods"),  # UnifiedPresaleModal.tsx, mounted (closed) with the page
    # The pre-sales screen: PresalesPage.tsx.
    ("GET", "/api/customers?page=1&limit=100"),  # useCustomers({page: 1, limit: 100})
    ("GET", "/api/products?page=1&limit=100"),  # useProducts({page: 1, limit: 100})
    ("GET", "/api/presales"),  # usePresales({autoFetch: true}): no query, the backend's default page of 50
    ("GET", "/api/payment-methods"),  # its UnifiedPresaleModal
    # Saving the new pre-sale, then the list again (handleCreatePresale -> refreshPresales).
    ("POST", "/api/presales"),
    ("GET", "/api/presales"),
)

WRITES = sum(1 for method, _ in FLOW if method == "POST")  # pre-sales created per flow


def mix_lua() -> str:
    """wrk Lua: each thread walks FLOW round robin, so every shape gets its share of the requests. POST slots call
    `presale_request()`, which the script defines before this part (a new valid pre-sale each time)."""
    slots = ",\n".join(f'  {{"{method}", "{path}"}}' for method, path in FLOW)
    return (
        "-- The web app's sales flow (bench/webapp_flow.py), weighted round robin: one slot per call of the flow.\n"
        f"local SLOTS = {{\n{slots}\n}}\n"
        + r"""
local slot = nil
function request()
  -- threads start at different places in the flow, so they do not send the same shape at the same moment
  if slot == nil then slot = ((tid or 0) * 7) % #SLOTS end
  slot = slot % #SLOTS + 1
  local s = SLOTS[slot]
  if s[1] == "POST" then
    -- Content-Type with the body only, as the web app's axios sends it
    wrk.headers["Content-Type"] = "application/json"
    local req = presale_request()
    wrk.headers["Content-Type"] = nil
    return req
  end
  return wrk.format(s[1], s[2])
end
"""
    )
