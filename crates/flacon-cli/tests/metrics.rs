//! `flacon serve --metrics`: what the library counts, scraped from `/metrics` as Prometheus
//! would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::flacon_serve;

const KEY: &str = "metrics-test-key-4f1c9a7e2b6d";

/// The value of the sample `name{labels}` in a Prometheus text scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn cookie_mode_counts_sessions_rejections_and_fallback_hits() {
    let old = "metrics-old-key-0b4e7d1a9c3f";
    // A cookie signed with the key about to be retired.
    let server = flacon_serve(&["--secret-key", old]);
    let old_cookie = server.set_email(None, "email_address=a%40b.c");
    drop(server);

    let server = flacon_serve(&["--secret-key", KEY, "--fallback-key", old, "--metrics"]);
    let fresh = server.set_email(None, "email_address=x%40y.z");
    for _ in 0..3 {
        server.get("/get_email", Some(&fresh));
    }
    for forged in ["garbage", "a.b.c", "also.bad"] {
        server.get("/get_email", Some(forged));
    }
    assert!(server
        .get("/get_email", Some(&old_cookie))
        .body
        .contains("a@b.c"));
    let reply = server.get("/metrics", None);
    assert_eq!(reply.status, 200);
    assert!(reply.session_cookie().is_none(), "scraping has no session");
    let scrape = reply.body;
    assert_eq!(
        sample(&scrape, "flacon_sessions_created_total{layer=\"cookie\"}"),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "flacon_rejected_cookies_total{kind=\"bad-signature\"}"
        ),
        Some(3.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "flacon_fallback_key_hits_total"),
        Some(1.0),
        "{scrape}"
    );
    // The three reads, and the old-key cookie.
    assert_eq!(
        sample(&scrape, "flacon_sessions_loaded_total{layer=\"cookie\"}"),
        Some(4.0),
        "{scrape}"
    );
}

#[test]
fn store_mode_times_store_operations() {
    let server = flacon_serve(&["--secret-key", KEY, "--store", "memory", "--metrics"]);
    let id = server.set_email(None, "email_address=a%40b.c");
    server.get("/get_email", Some(&id));
    let scrape = server.get("/metrics", None).body;
    assert_eq!(
        sample(&scrape, "flacon_sessions_created_total{layer=\"store\"}"),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "flacon_store_operation_seconds_count{op=\"create\"}"
        ),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "flacon_store_operation_seconds_count{op=\"load\"}"),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "flacon_store_errors_total{op=\"load\"}"),
        None,
        "{scrape}"
    );
}
