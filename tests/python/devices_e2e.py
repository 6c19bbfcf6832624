"""Drives two headless Chromium browsers through signing in as one user, the /devices page
and its revoke button, against BASE_URL (a `flacon serve` with server-side sessions).

Usage: devices_e2e.py BASE_URL SCREENSHOT_PATH
Prints one JSON object of what the browsers saw; the Rust test asserts on it.
"""

import json
import sys
import tempfile

from selenium.webdriver.common.by import By

from browser_e2e import arrive, browser, heading, leave_by

BASE, SHOT = sys.argv[1], sys.argv[2]


def sign_in(driver, user):
    driver.get(BASE + "/login")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    arrive(driver, "/whoami")
    return heading(driver)


def rows(driver):
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "tr")[1:]]


seen = {}
with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
    phone, laptop = browser(one), browser(two)
    try:
        seen["phone_signed_in"] = sign_in(phone, "ada")
        seen["laptop_signed_in"] = sign_in(laptop, "ada")
        phone.get(BASE + "/devices")
        seen["title"] = heading(phone)
        seen["rows_before"] = rows(phone)
        phone.save_screenshot(SHOT)
        # Revoke the row that is not this device.
        other = [r for r in phone.find_elements(By.CSS_SELECTOR, "tr")[1:]
                 if "this device" not in r.text][0]
        leave_by(phone, other.find_element(By.TAG_NAME, "button").click, "/devices")
        seen["rows_after"] = rows(phone)
        laptop.get(BASE + "/whoami")
        seen["laptop_after"] = heading(laptop)
        phone.get(BASE + "/whoami")
        seen["phone_after"] = heading(phone)
    finally:
        phone.quit()
        laptop.quit()
print(json.dumps(seen))
