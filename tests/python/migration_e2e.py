"""Drives headless Chromium through a migration setup behind nginx (BASE_URL): signs in on
the Flask app's page, sees the login and Flask's flash on flacon's pages, submits a form
flacon served (with its Flask-WTF token) to the Flask app, logs out on flacon and finds the
Flask app logged out too.

Usage: migration_e2e.py BASE_URL SCREENSHOT_PATH
Prints one JSON object of what the browser saw; the Rust test asserts on it.
"""

import json
import sys
import tempfile

from selenium.webdriver.common.by import By

from browser_e2e import arrive, browser, heading, leave_by

BASE, SHOT = sys.argv[1], sys.argv[2]


def paragraphs(driver):
    return [p.text for p in driver.find_elements(By.TAG_NAME, "p")]


seen = {}
with tempfile.TemporaryDirectory() as profile:
    driver = browser(profile)
    try:
        driver.get(BASE + "/flask/login")
        seen["flask_login_page"] = heading(driver)
        driver.find_element(By.ID, "user").send_keys("ada")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        arrive(driver, "/messages")
        seen["flash_on_flacon"] = paragraphs(driver)
        driver.save_screenshot(SHOT)
        driver.get(BASE + "/whoami")
        seen["flacon_whoami"] = heading(driver)
        # flacon's form, its Flask-WTF token made by flacon, posted to the Flask app.
        driver.get(BASE + "/feedback")
        driver.execute_script("document.forms[0].action = '/flask/feedback'")
        driver.find_element(By.NAME, "text").send_keys("one origin two apps")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        arrive(driver, "/messages")
        seen["after_flask_took_the_form"] = paragraphs(driver)
        # The same form without its token: Flask-WTF refuses it.
        driver.get(BASE + "/feedback")
        driver.execute_script(
            "document.forms[0].action = '/flask/feedback';"
            "document.querySelector('[name=csrf_token]').value = 'forged';")
        driver.find_element(By.NAME, "text").send_keys("forged")
        # Read the refusal, not the form page the click is leaving.
        leave_by(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click, "/flask/feedback")
        seen["forged_token"] = driver.find_element(By.TAG_NAME, "body").text
        # Log out on flacon, with the button of its devices page (the form carries flacon's
        # CSRF token); the Flask app sees nobody.
        driver.get(BASE + "/devices")
        leave_by(driver, driver.find_element(
            By.CSS_SELECTOR, "form[action='/logout'] button").click, "/whoami")
        seen["flacon_after_logout"] = heading(driver)
        driver.get(BASE + "/flask/whoami")
        seen["flask_after_logout"] = heading(driver)
    finally:
        driver.quit()
print(json.dumps(seen))
