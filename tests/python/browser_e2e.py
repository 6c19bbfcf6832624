"""Drives headless Chromium (Debian's chromium + chromedriver) through the article's five
steps against BASE_URL, then checks that two isolated browsers keep separate sessions.

Usage: browser_e2e.py BASE_URL SCREENSHOT_PATH
Prints one JSON object of what the browsers saw; the Rust test asserts on it.
"""

import json
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

BASE, SHOT = sys.argv[1], sys.argv[2]


def browser(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--window-size=900,500", f"--user-data-dir={profile_dir}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def heading(driver):
    return WebDriverWait(driver, 15).until(ec.presence_of_element_located((By.TAG_NAME, "h1"))).text


def arrive(driver, path):
    """Waits for the navigation a click started: a click returns before the next page loads."""
    WebDriverWait(driver, 15).until(ec.url_to_be(BASE + path))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def leave_by(driver, act, path):
    """Runs `act` (a click, a script submitting a form) and waits for the next page at `path`,
    even when that is the page being left (a form that redirects back): the old page must be
    gone first."""
    page = driver.find_element(By.TAG_NAME, "html")
    act()
    WebDriverWait(driver, 15).until(lambda _: is_gone(page))
    arrive(driver, path)


def is_gone(element):
    """Whether `element`'s document has been replaced. Selenium's `staleness_of` knows only
    the stale-element error; mid-navigation Chromium can instead answer that the node does
    not belong to the document, which means the same."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in (error.msg or ""):
            return True
        raise


def submit_email(driver, email):
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    arrive(driver, "/get_email")


def main():
    seen = {}
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        a = browser(one)
        b = browser(two)
        try:
            # 1. open /get_email: the prompt
            a.get(BASE + "/get_email")
            seen["a_first"] = heading(a)
            # 2. follow the link to the form
            a.find_element(By.LINK_TEXT, "here.").click()
            arrive(a, "/set_email")
            seen["a_form_url"] = a.current_url
            # 3. submit an email through the form
            submit_email(a, "ada@example.com")
            # 4. the welcome page
            seen["a_after_submit_url"] = a.current_url
            seen["a_welcome"] = heading(a)
            a.save_screenshot(SHOT)
            seen["a_cookie_http_only"] = all(c.get("httpOnly") for c in a.get_cookies())
            seen["a_cookie_names"] = sorted(c["name"] for c in a.get_cookies())
            # a second, isolated browser sets a different email
            b.get(BASE + "/set_email")
            submit_email(b, "grace@example.com")
            seen["b_welcome"] = heading(b)
            a.get(BASE + "/get_email")
            seen["a_again"] = heading(a)
            # 5. /delete_email, then the prompt again
            a.get(BASE + "/delete_email")
            seen["a_deleted"] = heading(a)
            a.get(BASE + "/get_email")
            seen["a_after_delete"] = heading(a)
            b.get(BASE + "/get_email")
            seen["b_after_a_deleted"] = heading(b)
        finally:
            a.quit()
            b.quit()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
