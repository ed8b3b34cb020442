#!/usr/bin/env python3
"""Drives mome_serve's web page in headless Chromium (Debian's chromium + chromium-driver + python3-selenium), as a
user would: the page loads the models, a clip is chosen in the file picker, Transcribe is pressed, the transcript
appears with one clickable word per timed word; clicking a word seeks the player. Or it records from Chromium's fake
camera and microphone (MediaRecorder, WebM) and transcribes the recording. Exit 0 when all of it worked; otherwise one line
saying what did not. Run by the test TrainingRun.WebPageTranscribesUploadsAndRecordingsInHeadlessChromium.

    page_check.py --url http://127.0.0.1:PORT --clip CLIP.mp4 [--screenshot OUT.png]   (an upload)
    page_check.py --url http://127.0.0.1:PORT --record                                (a recording; the fake
        camera shows a test pattern, not a mouth: give it a server with an audio-only model)
"""
import argparse
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = Options()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--window-size=1280,900"]:
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for_result(driver, what):
    """Waits until the status line says done (returns it) or shows an error (fails)."""
    def finished(d):
        status = d.find_element(By.ID, "status")
        return status if status.text.startswith("done") or "error" in status.get_attribute("class") else False
    status = WebDriverWait(driver, 120).until(finished)
    if not status.text.startswith("done"):
        sys.exit(f"page_check: {what}: the page shows an error: {status.text}")
    return status.text


def check_upload(driver, clip):
    driver.find_element(By.ID, "file").send_keys(clip)
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "go").is_enabled())
    driver.find_element(By.ID, "go").click()
    status = wait_for_result(driver, "upload")
    words = driver.find_elements(By.CSS_SELECTOR, "#transcript .word")
    if not words:
        sys.exit(f"page_check: upload: no words in the transcript ({status}): "
                 + driver.find_element(By.ID, "transcript").text)
    if "confidence" not in words[0].get_attribute("title"):
        sys.exit("page_check: a word carries no time and confidence: " + words[0].get_attribute("title"))
    start = float(words[-1].get_attribute("title").split("–")[0])
    words[-1].click()
    seeked = driver.execute_script("return document.getElementById('player').currentTime")
    if abs(seeked - start) > 0.3:
        sys.exit(f"page_check: clicking a word starting at {start} s put the player at {seeked} s")
    if not driver.find_element(By.ID, "srt").is_enabled():
        sys.exit("page_check: the subtitle downloads stay disabled after a transcript")
    print(f"page_check: upload: {len(words)} words ({status})")


def check_recording(driver):
    driver.find_element(By.ID, "record").click()
    WebDriverWait(driver, 10).until(lambda d: "Stop" in d.find_element(By.ID, "record").text)
    driver.execute_script("return new Promise(r => setTimeout(r, 2000))")
    driver.find_element(By.ID, "record").click()
    WebDriverWait(driver, 10).until(lambda d: "recording.webm" in d.find_element(By.ID, "source").text)
    driver.find_element(By.ID, "go").click()
    print(f"page_check: recording: {wait_for_result(driver, 'recording')}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clip")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--screenshot")
    args = ap.parse_args()
    driver = browser()
    try:
        driver.get(args.url)
        WebDriverWait(driver, 20).until(lambda d: "mome-" in d.find_element(By.ID, "rate_label").text)
        if args.clip:
            check_upload(driver, args.clip)
        if args.record:
            check_recording(driver)
        if args.screenshot:
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(args.screenshot)
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
