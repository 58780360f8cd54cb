"""Manual §7 "Probleemoplossing" and the engine's refusals on the portal's pages.

The overview lists every code the engine serves (``ErrorCatalogueService.ListErrors``)
with its cause and solution in the page's language; a refusal on a page shows its code,
cause and solution and links to the code's entry there.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from issuer.api.zorgid.v1 import certificate_pb2, errors_pb2
from tests.portal.conftest import ARTIFACTS, Stack, Window
from tests.portal.people import ZUID, People

LOCALES = {"nl": "nl-NL", "en": "en"}


def served(people: People) -> dict[str, dict[str, tuple[str, str]]]:
    """The catalogue as the engine serves it to the portal: code -> lang -> (cause, solution)."""
    answer = people.portal.errors.ListErrors(errors_pb2.ListErrorsRequest(), timeout=30)
    by_code: dict[str, dict[str, tuple[str, str]]] = {}
    for entry in answer.errors:
        texts = {t.locale: (t.cause, t.solution) for t in entry.texts}
        by_code[entry.code] = {lang: texts[locale] for lang, locale in LOCALES.items()}
    return by_code


def listed(page: Page) -> dict[str, tuple[str, str]]:
    """What the overview shows: code -> (cause, solution), read from the page."""
    rows: list[list[str]] = page.eval_on_selector_all(
        "article.problem",
        """els => els.map(e => [e.id, e.querySelector('.cause').textContent,
                               e.querySelector('.solution').textContent])""",
    )
    return {code: (cause, solution) for code, cause, solution in rows}


def test_the_overview_lists_every_served_code_in_dutch_and_english(
    stack: Stack, window: Window, people: People
) -> None:
    catalogue = served(people)
    assert len(catalogue) > 100
    page = window.tab()
    page.goto(stack.portal)
    page.get_by_role("link", name="Probleemoplossing").click()
    expect(page.locator("h1")).to_have_text("Probleemoplossing")
    expect(page.locator("article.problem")).to_have_count(len(catalogue))
    assert listed(page) == {code: texts["nl"] for code, texts in catalogue.items()}
    expect(page.locator("#ZID-2005 .cause")).to_have_text(catalogue["ZID-2005"]["nl"][0])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the page's top: all 100+ entries are too tall
    page.screenshot(path=str(ARTIFACTS / "figure-probleemoplossing.png"))

    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Troubleshooting")
    expect(page.locator("article.problem")).to_have_count(len(catalogue))
    assert listed(page) == {code: texts["en"] for code, texts in catalogue.items()}


def test_a_refused_card_shows_code_cause_and_solution_with_a_link_to_its_entry(
    stack: Stack, window: Window, people: People
) -> None:
    """A broken Desktop App sends an empty CSR: the engine refuses (ZID-2005) and the
    waiting page says so, in Dutch, with the entry of ZID-2005 one click away."""
    catalogue = served(people)
    person = people.register(people.card(ura=ZUID))
    portal = window.tab()
    people.log_in(portal, stack.portal, person)
    portal.get_by_role("button", name="Smartcard aanmaken").click()
    connect = portal.locator("#card-connect").inner_text()

    desktop = window.tab()
    asked = desktop.request.get(connect)
    assert asked.ok
    assert asked.json()["slots"] == {
        "required": ["authentication"],
        "optional": ["non-repudiation", "encryption"],
    }
    sent = desktop.request.post(connect, data={"csrs": {"authentication": ""}})
    assert sent.status == 400
    body = sent.json()
    assert body["state"] == "refused"
    assert body["code"] == "ZID-2005"
    cause, solution = catalogue["ZID-2005"]["nl"]
    assert body["texts"]["nl"] == f"{cause} {solution}"

    expect(portal.locator("#card-error-code")).to_have_text("ZID-2005")
    expect(portal.locator("#card-error-cause")).to_have_text(cause)
    expect(portal.locator("#card-error-solution")).to_have_text(solution)
    portal.get_by_role("link", name="Zie Probleemoplossing voor deze code").click()
    expect(portal).to_have_url(f"{stack.portal}problemen#ZID-2005")
    expect(portal.locator("#ZID-2005 .cause")).to_be_in_viewport()
    expect(portal.locator("#ZID-2005 .solution")).to_have_text(solution)


def test_the_error_page_explains_a_refusal_in_the_pages_language(
    stack: Stack, window: Window, people: People
) -> None:
    """The operator revokes the person's mobile ID while they are logged in: starting a
    card is refused (ZID-1709) and the error page explains it, here in English."""
    catalogue = served(people)
    person = people.register(people.card(ura=ZUID))
    page = window.tab()
    people.log_in(page, stack.portal, person)
    people.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=people.certificate(person).id,
            reason=certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION,
        ),
        timeout=30,
    )
    page.get_by_role("link", name="English").click()
    page.get_by_role("button", name="Create a smartcard").click()
    expect(page.locator("h1")).to_have_text("Something went wrong")
    cause, solution = catalogue["ZID-1709"]["en"]
    expect(page.locator("#error-code")).to_have_text("ZID-1709")
    expect(page.locator("#error-cause")).to_have_text(cause)
    expect(page.locator("#error-solution")).to_have_text(solution)
    page.get_by_role("link", name="See Troubleshooting for this code").click()
    expect(page).to_have_url(f"{stack.portal}problemen#ZID-1709")
    expect(page.locator("#ZID-1709 .cause")).to_have_text(cause)
    expect(page.locator("#ZID-1709 .cause")).to_be_in_viewport()
