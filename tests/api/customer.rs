//! The Customer webhook (seed 004, SPEC 8.1): PUT of the seed's example, GET in every result
//! type compared with the fixtures built from the seeds, the main contact of a private
//! individual, recoding of prospects and suspects, the CTE type, DELETE, LIST, validation
//! and dynamic fields. Each test has its own worker, database and topology prefix.
//! `tests/fixtures/README.md` says where each expected reply comes from.

use serde_json::{json, Map, Value as Json};
use sqlx::Row;

use crate::assertions::{assert_error, assert_json_in_order, assert_ok, compare_in_order};
use crate::assertions::{detail_fields, keys};
use crate::helpers::{fixture, spawn_worker, TestWorker};
use crate::helpers::{individual, insert_turnover_and_workforce_slices, main_contacts, sql};
use webhook_worker::call::Reply;

// ---------------------------------------------------------------------------------------
// PUT of 004's example
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_the_seed_example_creates_the_customer_with_full_generictype_codes_and_its_two_users(
) {
    let app = spawn_worker().await;

    let reply = app.call("customer", fixture("customer_put.json")).await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "C0000001");
    assert_eq!(reply.body["created"], json!(true));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("customer_get_extended.json"),
    );
    let row = app
        .row("sw_data_customer", "codecustomer", "C0000001")
        .await
        .expect("the customer row");
    for (column, stored) in [
        ("name", json!("ENTREPRISE DIJON GUICHARD")),
        ("baseuser_ID", json!("GRO-OUES")),
        ("address2", Json::Null),
        ("email", Json::Null),
        ("deliveryDays", json!("1A;1B;2A;2B;3A;3B;4A;4B;5A;5B;")),
        ("generictype_ID_customerType", json!("CUSTOMER_TYPE-CTC")),
        ("generictype_ID_country", json!("COUNTRY-FR")),
        ("generictype_ID_province", Json::Null),
        ("generictype_ID_civility", json!("CIVILITY-SA")),
        (
            "generictype_ID_customerFamily",
            json!("CUSTOMER_FAMILY-GROSARTG"),
        ),
        ("generictype_ID_paymentMean", json!("PAYMENT_MEAN-N30")),
        ("generictype_ID_deliveryMode", json!("DELIVERY_MODE-CHRO")),
        ("generictype_ID_taxCode", json!("TAX_CUSTOMER-0")),
        (
            "generictype_ID_customerPotential",
            json!("CUSTOMER_POTENTIAL-B"),
        ),
        (
            "generictype_ID_referencing",
            json!("PRODUCT_REFERENCING-NOTSTRICT"),
        ),
        ("generictype_ID_distribution", json!("DISTRIBUTION-SELF")),
        ("generictype_ID_market", json!("MARKET-BIG")),
        ("generictype_ID_accountingCategory", Json::Null),
        ("discountRate", json!(0)),
        ("workforce", json!(23)),
        ("blocked", json!(false)),
        ("isIndividual", json!(false)),
        ("vacationStart", Json::Null),
        ("divinf_t035_ID", json!("RG")),
        ("divinf_rem1", json!(0)),
        ("divinf_remtyp1", json!(2)),
        ("dynamicfields", json!({"CLI40": "7", "CLI50": "8"})),
    ] {
        assert_eq!(row[column], stored, "sw_data_customer.{column}");
    }
    for (code, baseuser, category) in [
        ("C0000001-95", "95", "CUSTOMERUSER_LINK-1"),
        ("C0000001-TECH1", "TECH1", "CUSTOMERUSER_LINK-2"),
    ] {
        let user = app
            .row("sw_data_customeruser", "codecustomeruser", code)
            .await
            .unwrap_or_else(|| panic!("customeruser {code}"));
        assert_eq!(user["customer_ID"], "C0000001", "{code}");
        assert_eq!(user["baseuser_ID"], baseuser, "{code}");
        assert_eq!(user["generictype_ID_category"], category, "{code}");
    }
    assert_eq!(app.count("SELECT count(*) FROM sw_data_customer").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM sw_data_customeruser").await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sw_data_customercontact")
            .await,
        0,
        "isIndividual is 0: no main contact"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_identical_put_replies_created_false_and_changes_nothing() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let before = app
        .row("sw_data_customer", "codecustomer", "C0000001")
        .await;

    let reply = app.call("customer", fixture("customer_put.json")).await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("customer_get_extended.json"),
    );
    let after = app
        .row("sw_data_customer", "codecustomer", "C0000001")
        .await;
    assert_eq!(after, before);
    assert_eq!(app.count("SELECT count(*) FROM sw_data_customer").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM sw_data_customeruser").await,
        2
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// GET, compared with the fixtures key by key and in order (SPEC 3, 10)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_simple_returns_the_seed_simple_example_keys_in_order() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "resultType": "simple"}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "C0000001");
    assert_json_in_order(&reply.body["result"], &fixture("customer_get_simple.json"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_returns_the_seed_extended_keys_in_order_then_the_other_fields() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "resultType": "extended"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("customer_get_extended.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_adds_every_related_block_of_the_seed() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("customer_get_extended_related.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_with_get_indicators_adds_the_extension_row_and_the_live_counts() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    insert_turnover_and_workforce_slices(&app).await;
    let extension = app
        .call("customerextension", seed_indicators_put("C0000001"))
        .await;
    assert_ok(&extension);

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "resultType": "extended",
                   "settings": {"getIndicators": "1"}}),
        )
        .await;

    assert_ok(&reply);
    let mut expected = Map::new();
    expected.insert(
        "customer".into(),
        fixture("customer_get_extended.json")["customer"].clone(),
    );
    expected.insert(
        "indicators".into(),
        fixture("customer_indicators.json")["indicators"].clone(),
    );
    assert_json_in_order(&reply.body["result"], &Json::Object(expected));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_indicators_of_a_customer_without_extension_row_gives_empty_figures_and_live_counts() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "settings": {"getIndicators": 1}}),
        )
        .await;

    assert_ok(&reply);
    let mut expected = fixture("customer_indicators.json")["indicators"][0].clone();
    for (key, value) in expected.as_object_mut().expect("an indicators block") {
        *value = match key.as_str() {
            "customer_ID" => json!("C0000001"),
            "openedContract" | "openedOpportunity" => json!("0"),
            _ => json!(""),
        };
    }
    assert_json_in_order(&reply.body["result"]["indicators"], &json!([expected]));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// isIndividual: the main contact (SPEC 8.1)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_individual_creates_its_main_contact_from_the_customer() {
    let app = spawn_worker().await;

    let reply = app
        .call("customer", put_customer("I0000001", individual("DUPONT")))
        .await;

    assert_ok(&reply);
    let contacts = main_contacts(&app, "I0000001").await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let contact = &contacts[0];
    for (column, value) in [
        ("customer_ID", json!("I0000001")),
        ("mainContact", json!(true)),
        ("lastName", json!("DUPONT")),
        ("firstName", json!("Jeanne")),
        ("generictype_ID_civility", json!("CIVILITY-SA")),
        ("address1", json!("3 rue des Lilas")),
        ("postalCode", json!("21000")),
        ("city", json!("DIJON")),
        ("phoneNumber", json!("03 80 00 00 01")),
        ("mobilePhoneNumber", json!("06 00 00 00 01")),
        ("email", json!("jeanne@dupont.fr")),
        ("generictype_ID_country", json!("COUNTRY-FR")),
        ("baseculture_ID", json!("FR-FR")),
    ] {
        assert_eq!(contact[column], value, "customercontact.{column}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_an_individual_updates_its_one_main_contact() {
    let app = spawn_worker().await;
    assert_ok(
        &app.call("customer", put_customer("I0000001", individual("DUPONT")))
            .await,
    );
    let created = main_contacts(&app, "I0000001").await;

    let reply = app
        .call(
            "customer",
            put_customer("I0000001", json!({"name": "DURAND", "city": "BEAUNE"})),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    let contacts = main_contacts(&app, "I0000001").await;
    assert_eq!(contacts.len(), 1, "still one main contact: {contacts:?}");
    assert_eq!(
        contacts[0]["codecustomercontact"],
        created[0]["codecustomercontact"]
    );
    assert_eq!(contacts[0]["lastName"], "DURAND");
    assert_eq!(contacts[0]["city"], "BEAUNE");
    assert_eq!(contacts[0]["email"], "jeanne@dupont.fr");
    assert_eq!(
        app.count("SELECT count(*) FROM sw_data_customercontact")
            .await,
        1
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Recoding (SPEC 8.1, 11.4, 11.6)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_is_recoded_into_a_customer_and_its_references_follow() {
    recode_into_customer_and_check("P0000001", "CUSTOMER_TYPE-CTP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspect_is_recoded_into_a_customer_and_its_references_follow() {
    recode_into_customer_and_check("S0000001", "CUSTOMER_TYPE-CTSUS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_recoded_without_a_type_takes_the_customer_default_type() {
    let app = spawn_worker().await;
    insert_third_party(&app, "P0000009", "CUSTOMER_TYPE-CTP").await;

    let reply = app
        .call(
            "customer",
            json!({"verb": "PUT", "customer": {
                "codecustomer": "C0000009", "name": "CHEZ SOI", "internalcodecustomer": "P0000009"}}),
        )
        .await;

    assert_ok(&reply);
    let row = app
        .row("sw_data_customer", "codecustomer", "C0000009")
        .await
        .expect("recoded");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTC");
    let get = app
        .call("customer", json!({"verb": "GET", "code": "C0000009"}))
        .await;
    assert_ok(&get);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recoding_onto_an_existing_code_is_a_dead_lettered_conflict_that_changes_nothing() {
    let app = spawn_worker().await;
    insert_third_party(&app, "P0000001", "CUSTOMER_TYPE-CTP").await;
    app.put_seed_customer().await;
    let before = app.snapshot().await;

    let reply = app
        .call("customer", recode_example("C0000001", "P0000001"))
        .await;

    assert_error(&reply, "CONFLICT");
    assert_eq!(app.snapshot().await, before);
    assert_dead_lettered(&app, "CONFLICT").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recoding_from_a_missing_origin_is_not_found_and_not_dead_lettered() {
    let app = spawn_worker().await;
    let before = app.snapshot().await;

    let reply = app
        .call("customer", recode_example("C0000001", "P0000404"))
        .await;

    assert_error(&reply, "NOT_FOUND");
    assert_eq!(app.snapshot().await, before);
    app.stop_and_check_no_dead_letter("customer").await;
}

// ---------------------------------------------------------------------------------------
// Types: CTE is written but hidden, CTP and CTSUS belong to other webhooks (SPEC 11.6, 11.17)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_customer_is_stored_but_get_and_list_do_not_show_it() {
    let app = spawn_worker().await;
    assert_ok(
        &app.call(
            "customer",
            put_customer("C0000002", json!({"name": "VISIBLE"})),
        )
        .await,
    );

    let put = app
        .call(
            "customer",
            put_customer(
                "E0000001",
                json!({"name": "TEMPORAIRE", "generictype_ID_customerType": "CUSTOMER_TYPE-CTE"}),
            ),
        )
        .await;
    let get = app
        .call("customer", json!({"verb": "GET", "code": "E0000001"}))
        .await;
    let list = app.call("customer", json!({"verb": "LIST"})).await;

    assert_ok(&put);
    assert_eq!(put.body["created"], json!(true));
    let row = app
        .row("sw_data_customer", "codecustomer", "E0000001")
        .await
        .expect("the CTE row is stored");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTE");
    assert_error(&get, "NOT_FOUND");
    assert_ok(&list);
    assert_eq!(list_codes(&list), ["C0000002"]);
    assert_eq!(list.body["total"], json!(1));
    app.stop_and_check_no_dead_letter("customer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_delete_of_a_prospect_or_suspect_code_are_not_found_and_change_nothing() {
    let app = spawn_worker().await;
    insert_third_party(&app, "P0000001", "CUSTOMER_TYPE-CTP").await;
    insert_third_party(&app, "S0000001", "CUSTOMER_TYPE-CTSUS").await;
    let before = app.snapshot().await;

    let mut replies = Vec::new();
    for code in ["P0000001", "S0000001"] {
        for verb in ["GET", "DELETE"] {
            let reply = app
                .call("customer", json!({"verb": verb, "code": code}))
                .await;
            replies.push((format!("{verb} {code}"), reply));
        }
    }

    for (request, reply) in &replies {
        assert_eq!(reply.body["error"]["code"], "NOT_FOUND", "{request}");
    }
    assert_eq!(app.snapshot().await, before);
    app.stop_and_check_no_dead_letter("customer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_put_naming_an_existing_prospect_code_is_a_conflict() {
    let app = spawn_worker().await;
    insert_third_party(&app, "P0000001", "CUSTOMER_TYPE-CTP").await;
    let before = app.snapshot().await;

    let reply = app
        .call(
            "customer",
            put_customer("P0000001", json!({"name": "CHEZ SOI"})),
        )
        .await;

    assert_error(&reply, "CONFLICT");
    assert_eq!(app.snapshot().await, before);
    let row = app
        .row("sw_data_customer", "codecustomer", "P0000001")
        .await
        .expect("the prospect is still there");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTP");
    assert_dead_lettered(&app, "CONFLICT").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_put_with_the_prospect_type_is_validation_failed_naming_the_field() {
    let app = spawn_worker().await;
    let before = app.snapshot().await;

    let reply = app
        .call(
            "customer",
            put_customer(
                "C0000003",
                json!({"name": "X", "generictype_ID_customerType": "CUSTOMER_TYPE-CTP"}),
            ),
        )
        .await;

    assert_error(&reply, "VALIDATION_FAILED");
    assert_eq!(detail_fields(&reply), ["generictype_ID_customerType"]);
    assert_eq!(app.snapshot().await, before);
    assert_dead_lettered(&app, "VALIDATION_FAILED").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// DELETE (SPEC 8.1, 11.13)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascades_to_the_users_the_main_contact_and_the_extension_and_counts_them() {
    let app = spawn_worker().await;
    let mut seed = fixture("customer_put.json");
    seed["customer"]["isIndividual"] = json!("1");
    assert_ok(&app.call("customer", seed).await);
    insert_turnover_and_workforce_slices(&app).await;
    assert_ok(
        &app.call("customerextension", seed_indicators_put("C0000001"))
            .await,
    );
    assert_eq!(main_contacts(&app, "C0000001").await.len(), 1);

    let reply = app
        .call("customer", json!({"verb": "DELETE", "code": "C0000001"}))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "C0000001");
    assert_eq!(
        reply.body["deleted"],
        json!({"customer": 1, "customeruser": 2, "customercontact": 1, "customerextension": 1})
    );
    for table in [
        "sw_data_customer",
        "sw_data_customeruser",
        "sw_data_customercontact",
        "sw_data_customerextension",
    ] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(app.count(&sql).await, 0, "{table}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_customer_still_paid_for_by_another_is_a_dead_lettered_conflict() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    assert_ok(
        &app.call(
            "customer",
            put_customer(
                "C0000002",
                json!({"name": "FILIALE", "customer_ID_paying": "C0000001"}),
            ),
        )
        .await,
    );
    let before = app.snapshot().await;

    let reply = app
        .call("customer", json!({"verb": "DELETE", "code": "C0000001"}))
        .await;

    assert_error(&reply, "CONFLICT");
    let details = reply.body["error"]["details"].as_array().expect("details");
    assert!(
        details.iter().any(|d| d["field"] == "customer_ID_paying"
            && d["references"] == "sw_data_customer.customer_ID_paying"),
        "details name the referencing field: {details:?}"
    );
    assert_eq!(app.snapshot().await, before);
    assert_dead_lettered(&app, "CONFLICT").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_an_unknown_code_is_not_found_and_not_dead_lettered() {
    let app = spawn_worker().await;
    app.put_seed_customer().await;
    let before = app.snapshot().await;

    let reply = app
        .call("customer", json!({"verb": "DELETE", "code": "C0000404"}))
        .await;

    assert_error(&reply, "NOT_FOUND");
    assert_eq!(app.snapshot().await, before);
    app.stop_and_check_no_dead_letter("customer").await;
}

// ---------------------------------------------------------------------------------------
// LIST (SPEC 2, 3, 11.13)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_filter_of_the_seed_selects_exactly_the_matching_customers() {
    let app = spawn_worker().await;
    put_list_customers(&app).await;
    let cases: &[(Json, &[&str])] = &[
        (json!({"codeCustomer": "L7B"}), &["L7B"]),
        (json!({"codeCustomer": "L7"}), &[]),
        (json!({"name": "boulangerie"}), &["L7A", "L7B"]),
        (json!({"customerType": "CTC"}), &["L7A", "L7B", "L7C"]),
        (
            json!({"customerType": "CUSTOMER_TYPE-CTC"}),
            &["L7A", "L7B", "L7C"],
        ),
        (json!({"customerType": "CTE"}), &[]),
        (
            json!({"customerFamily": "CUSTOMER_FAMILY-GROSARTG"}),
            &["L7A"],
        ),
        (json!({"customerFamily": "GROSARTG"}), &["L7A"]),
        (json!({"customerFamily": "Est"}), &["L7B"]),
        (json!({"codeCountry": "FR"}), &["L7A", "L7C"]),
        (json!({"codeCountry": "COUNTRY-FR"}), &["L7A", "L7C"]),
        (json!({"codeBaseuser": "GRO-OUES"}), &["L7A"]),
        (json!({"codeBaseuser": "gro-oues"}), &[]),
        (json!({"codeBranchoffice": "SXB"}), &["L7A"]),
        (json!({"email": "contact@alpha.fr"}), &["L7A"]),
        (json!({"emailDomain": "@alpha.fr"}), &["L7A", "L7C"]),
        (json!({"emailDomain": "@ALPHA.FR"}), &["L7A", "L7C"]),
        (json!({"siretNumber": "11111111100011"}), &["L7A"]),
        (json!({"siretNumber": "111111111"}), &[]),
        (json!({"city": "dij"}), &["L7A", "L7B"]),
        (json!({"notClosedBefore": "2021-01-01"}), &["L7A", "L7C"]),
        (json!({"notClosedBefore": "2023-06-30 12:00:00"}), &["L7A"]),
        (
            json!({"name": "boulangerie", "codeCountry": "FR"}),
            &["L7A"],
        ),
    ];

    for (filters, expected) in cases {
        let reply = app
            .call("customer", json!({"verb": "LIST", "filters": filters}))
            .await;

        assert_ok(&reply);
        assert_eq!(list_codes(&reply), *expected, "filters {filters}");
        assert_eq!(
            reply.body["total"],
            json!(expected.len()),
            "filters {filters}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orders_by_code_by_default_and_by_name_with_name_asc() {
    let app = spawn_worker().await;
    put_list_customers(&app).await;

    let by_code = app
        .call("customer", json!({"verb": "LIST", "resultType": "simple"}))
        .await;
    let by_name = app
        .call("customer", json!({"verb": "LIST", "orderBy": "nameAsc"}))
        .await;

    assert_ok(&by_code);
    assert_eq!(list_codes(&by_code), ["L7A", "L7B", "L7C"]);
    let simple_keys = keys(&fixture("customer_get_simple.json")["customer"]);
    assert_eq!(
        keys(&by_code.body["result"]["customer"][0]),
        simple_keys,
        "each item is shaped as GET simple"
    );
    assert_ok(&by_name);
    assert_eq!(list_codes(&by_name), ["L7B", "L7C", "L7A"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_with_limit_offset_total_count_and_has_more_as_json_numbers() {
    let app = spawn_worker().await;
    for code in ["L7P1", "L7P2", "L7P3", "L7P4", "L7P5"] {
        assert_ok(
            &app.call("customer", put_customer(code, json!({"name": code})))
                .await,
        );
    }

    let default = app.call("customer", json!({"verb": "LIST"})).await;
    let first = list_page(&app, 2, 0).await;
    let middle = list_page(&app, 2, 2).await;
    let last = list_page(&app, 2, 4).await;

    for (reply, codes, limit, offset, has_more) in [
        (
            &default,
            &["L7P1", "L7P2", "L7P3", "L7P4", "L7P5"][..],
            100,
            0,
            false,
        ),
        (&first, &["L7P1", "L7P2"][..], 2, 0, true),
        (&middle, &["L7P3", "L7P4"][..], 2, 2, true),
        (&last, &["L7P5"][..], 2, 4, false),
    ] {
        assert_ok(reply);
        assert_eq!(list_codes(reply), codes);
        assert_eq!(reply.body["count"], json!(codes.len()));
        assert_eq!(reply.body["total"], json!(5));
        assert_eq!(reply.body["limit"], json!(limit));
        assert_eq!(reply.body["offset"], json!(offset));
        assert_eq!(reply.body["hasMore"], json!(has_more));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_an_unknown_filter_an_unknown_order_or_a_limit_above_1000_is_an_invalid_request()
{
    // Customer has no `between` filter: the "between without |" case does not apply.
    let app = spawn_worker().await;
    let requests = [
        json!({"verb": "LIST", "filters": {"codeProspect": "P0000001"}}),
        json!({"verb": "LIST", "orderBy": "nameDesc"}),
        json!({"verb": "LIST", "limit": 1001}),
    ];

    for request in &requests {
        let reply = app.call("customer", request.clone()).await;

        assert_error(&reply, "INVALID_REQUEST");
    }
    let letters = app.dead_letters("customer", requests.len()).await;
    assert_eq!(letters.len(), requests.len());
    for (letter, request) in letters.iter().zip(&requests) {
        assert_eq!(letter.header("webhook-error-code"), "INVALID_REQUEST");
        assert_eq!(&letter.body_json(), request);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Validation and foreign keys (SPEC 3, 4)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_with_several_bad_fields_is_validation_failed_naming_every_one_and_writes_nothing() {
    let app = spawn_worker().await;
    let before = app.snapshot().await;

    let reply = app
        .call(
            "customer",
            put_customer(
                "C0000004",
                json!({
                    "name": "X",
                    "workforce": "abc",
                    "blocked": "2",
                    "postalCode": "12345678901234567",
                    "favouriteColour": "blue",
                    "vacationStart": "2020-13-45",
                }),
            ),
        )
        .await;

    assert_error(&reply, "VALIDATION_FAILED");
    let mut fields = detail_fields(&reply);
    fields.sort();
    assert_eq!(
        fields,
        [
            "blocked",
            "favouriteColour",
            "postalCode",
            "vacationStart",
            "workforce"
        ]
    );
    assert_eq!(app.snapshot().await, before);
    let letter = assert_dead_lettered(&app, "VALIDATION_FAILED").await;
    let header_details: Json =
        serde_json::from_str(letter.header("webhook-error-details")).expect("JSON details");
    assert_eq!(header_details, reply.body["error"]["details"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_with_an_unknown_baseuser_and_country_is_invalid_foreign_key_listing_both() {
    let app = spawn_worker().await;
    let before = app.snapshot().await;

    let reply = app
        .call(
            "customer",
            put_customer(
                "C0000005",
                json!({"name": "X", "baseuser_ID": "NOBODY", "generictype_ID_country": "COUNTRY-XX"}),
            ),
        )
        .await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    let details = reply.body["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 2, "{details:?}");
    let detail = |field: &str| {
        details
            .iter()
            .find(|d| d["field"] == field)
            .unwrap_or_else(|| panic!("no detail for {field}: {details:?}"))
    };
    assert_eq!(detail("baseuser_ID")["value"], "NOBODY");
    assert_eq!(
        detail("baseuser_ID")["references"],
        "sw_data_baseuser.codebaseuser"
    );
    assert_eq!(detail("generictype_ID_country")["value"], "COUNTRY-XX");
    let references = detail("generictype_ID_country")["references"]
        .as_str()
        .unwrap_or_default();
    assert!(
        references.starts_with("sw_data_generictype.codegenerictype"),
        "{references}"
    );
    assert_eq!(app.snapshot().await, before);
    assert_dead_lettered(&app, "INVALID_FOREIGN_KEY").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Dynamic fields (SPEC 8.4, 11.9)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_fields_are_stored_from_both_forms_and_returned_by_get_extended() {
    let app = spawn_worker().await;

    let direct = app
        .call(
            "customer",
            put_customer("D0000001", json!({"name": "X", "v_CLI40": "7"})),
        )
        .await;
    let pairs = app
        .call(
            "customer",
            put_customer(
                "D0000001",
                json!({"dynamicFields": [{"fieldname": "CLI50", "fieldvalue": "8"}]}),
            ),
        )
        .await;
    let get = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "D0000001", "resultType": "extended"}),
        )
        .await;

    assert_ok(&direct);
    assert_ok(&pairs);
    let row = app
        .row("sw_data_customer", "codecustomer", "D0000001")
        .await
        .expect("the customer row");
    assert_eq!(row["dynamicfields"], json!({"CLI40": "7", "CLI50": "8"}));
    assert_ok(&get);
    let block = &get.body["result"]["customer"];
    assert_eq!(block["v_CLI40"], "7");
    assert_eq!(block["v_CLI50"], "8");
    app.stop().await;
}

/// A GET's block is written straight from the row as JSON text (render.rs), a PUT's and a
/// LIST's through a map: the same keys in the same order, the same values, whatever the
/// text holds (quotes, backslashes, control characters, non-ASCII, a label, dynamic fields).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_writes_the_same_block_as_put_and_list_whatever_the_text_holds() {
    let app = spawn_worker().await;
    let name = "A \"quoted\" \\ name\twith\nlines\u{1} \u{1f} é 😀 </script>";
    let put = app
        .call(
            "customer",
            put_customer(
                "T0000001",
                json!({"name": name, "comment": "\u{7f}\r\u{8}\u{c}/",
                       "generictype_ID_country": "FR", "v_CLI40": "x\"y"}),
            ),
        )
        .await;
    let get = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "T0000001", "resultType": "extended"}),
        )
        .await;
    let list = app
        .call(
            "customer",
            json!({"verb": "LIST", "resultType": "extended",
                   "filters": {"codeCustomer": "T0000001"}}),
        )
        .await;

    assert_ok(&put);
    assert_ok(&get);
    assert_ok(&list);
    let block = &get.body["result"]["customer"];
    assert_eq!(block["name"], name);
    assert_eq!(block["comment"], "\u{7f}\r\u{8}\u{c}/");
    assert_eq!(block["generictype_ID_country"], "FR", "shown as its label");
    assert_eq!(block["v_CLI40"], "x\"y");
    compare_in_order("GET", block, &put.body["result"]["customer"]);
    compare_in_order("GET", block, &list.body["result"]["customer"][0]);
    app.stop().await;
}

/// The reply reads the row whole and writes each value itself (engine/record.rs): every
/// type shows as PostgreSQL's own SQL writes it (`::text`, `to_char`), NULL as `""`, in
/// the GET's, the PUT's and the LIST's block alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_is_shown_as_postgresql_writes_it_in_get_put_and_list() {
    let app = spawn_worker().await;
    let cases = [
        // (code, doubles for gpsLongitude / gpsLatitude / area / discountRate, int, bool,
        // date, date-time)
        (
            "T0000011",
            ["0.1", "-1.25", "1e15", "123456789012345.6"],
            "-42",
            "1",
            "0099-01-01",
            "9999-12-31 23:59:59",
        ),
        (
            "T0000012",
            ["1.5e-5", "0.0001", "200", "-0"],
            "2147483647",
            "0",
            "2026-12-07",
            "2000-01-01 00:00",
        ),
        ("T0000013", ["5e-324", "1e300", "", "0"], "", "", "", ""),
    ];
    for (code, doubles, int, bool, date, datetime) in cases {
        let fields = json!({
            "name": "TYPES", "gpsLongitude": doubles[0], "gpsLatitude": doubles[1],
            "area": doubles[2], "discountRate": doubles[3], "workforce": int,
            "blocked": bool, "vacationStart": date, "gpsUpdateDate": datetime,
        });
        let put = app.call("customer", put_customer(code, fields)).await;
        let get = app
            .call(
                "customer",
                json!({"verb": "GET", "code": code, "resultType": "extended"}),
            )
            .await;
        let list = app
            .call(
                "customer",
                json!({"verb": "LIST", "resultType": "extended", "filters": {"codeCustomer": code}}),
            )
            .await;
        assert_ok(&put);
        assert_ok(&get);
        assert_ok(&list);
        let query =
            "SELECT coalesce(\"gpsLongitude\"::text, ''), coalesce(\"gpsLatitude\"::text, ''), \
                   coalesce(area::text, ''), coalesce(\"discountRate\"::text, ''), \
                   coalesce(workforce::text, ''), \
                   coalesce(CASE WHEN blocked THEN '1' WHEN NOT blocked THEN '0' END, ''), \
                   coalesce(to_char(\"vacationStart\", 'YYYY-MM-DD'), ''), \
                   coalesce(to_char(\"gpsUpdateDate\", 'YYYY-MM-DD HH24:MI:SS'), '') \
                   FROM sw_data_customer WHERE codecustomer = $1";
        let row = sqlx::query(query)
            .bind(code)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let keys = [
            "gpsLongitude",
            "gpsLatitude",
            "area",
            "discountRate",
            "workforce",
            "blocked",
            "vacationStart",
            "gpsUpdateDate",
        ];
        for (i, key) in keys.iter().enumerate() {
            let expected: String = row.get(i);
            for (verb, block) in [
                ("GET", &get.body["result"]["customer"]),
                ("PUT", &put.body["result"]["customer"]),
                ("LIST", &list.body["result"]["customer"][0]),
            ] {
                assert_eq!(block[*key], json!(expected), "{verb} {code} {key}");
            }
        }
    }
    for (code, key, text) in [
        ("T0000011", "discountRate", "123456789012345.6"),
        ("T0000011", "area", "1e+15"),
        ("T0000012", "gpsLongitude", "1.5e-05"),
        ("T0000011", "vacationStart", "0099-01-01"),
        ("T0000012", "gpsUpdateDate", "2000-01-01 00:00:00"),
        ("T0000013", "workforce", ""),
    ] {
        let get = app
            .call(
                "customer",
                json!({"verb": "GET", "code": code, "resultType": "extended"}),
            )
            .await;
        assert_eq!(get.body["result"]["customer"][key], text, "{code} {key}");
    }
    app.stop().await;
}

/// Replies read the row whole and find its columns through the catalog (render.rs): a
/// column added or dropped while the worker runs (another version's migration in a
/// rolling upgrade) changes nothing in what GET, PUT and LIST show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_or_dropped_while_running_changes_no_reply() {
    let app = spawn_worker().await;
    let get = json!({"verb": "GET", "code": "T0000021", "resultType": "extended"});
    let list = json!({"verb": "LIST", "resultType": "extended",
                      "filters": {"codeCustomer": "T0000021"}});
    let put = |name: &str| put_customer("T0000021", json!({"name": name, "workforce": "12"}));
    let first = app.call("customer", put("BEFORE")).await;
    assert_ok(&first);
    let before = app.call("customer", get.clone()).await;
    assert_ok(&before);
    for ddl in [
        "ALTER TABLE sw_data_customer ADD COLUMN zz_a integer DEFAULT 7, ADD COLUMN zz_b text",
        // Now a dropped column lies between the table's columns and the added one.
        "ALTER TABLE sw_data_customer DROP COLUMN zz_a",
        "ALTER TABLE sw_data_customer DROP COLUMN zz_b",
    ] {
        sqlx::query(ddl).execute(&app.pool).await.unwrap();
        let after = app.call("customer", get.clone()).await;
        assert_ok(&after);
        let expected = &before.body["result"];
        assert_eq!(&after.body["result"], expected, "GET after {ddl}");
        let listed = app.call("customer", list.clone()).await;
        assert_ok(&listed);
        assert_eq!(
            listed.body["result"]["customer"][0], expected["customer"],
            "{ddl}"
        );
        let again = app.call("customer", put("BEFORE")).await;
        assert_ok(&again);
        assert_eq!(
            again.body["result"]["customer"], expected["customer"],
            "{ddl}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_dynamic_field_is_validation_failed_naming_it() {
    let app = spawn_worker().await;
    let before = app.snapshot().await;

    let reply = app
        .call(
            "customer",
            put_customer("D0000002", json!({"name": "X", "v_NOPE": "1"})),
        )
        .await;

    assert_error(&reply, "VALIDATION_FAILED");
    assert_eq!(detail_fields(&reply), ["v_NOPE"]);
    assert_eq!(app.snapshot().await, before);
    assert_dead_lettered(&app, "VALIDATION_FAILED").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A customer PUT: `{"verb":"PUT","customer":{"codecustomer": code, ...fields}}`.
fn put_customer(code: &str, fields: Json) -> Json {
    let mut block = Map::new();
    block.insert("codecustomer".into(), json!(code));
    block.extend(fields.as_object().cloned().unwrap_or_default());
    json!({"verb": "PUT", "customer": block})
}

/// 004's minimal recoding example (`internalcodecustomer` = the origin).
fn recode_example(code: &str, origin: &str) -> Json {
    put_customer(
        code,
        json!({"name": "CHEZ SOI", "generictype_ID_customerType": "CUSTOMER_TYPE-CTC",
               "internalcodecustomer": origin}),
    )
}

/// 004's indicators row as a customerextension PUT: its figures without the live counts,
/// `customer_ID` = the customer's code (SPEC 11.12), the slices as generictype codes.
fn seed_indicators_put(customer: &str) -> Json {
    json!({"verb": "PUT", "customerextension": {
        "codecustomerextension": "30000000493", "customer_ID": customer,
        "dataQualityIndicator": "5", "turnoverN": "", "turnoverN1": "", "turnoverN2": "",
        "lastOrder": "2019-05-17 08:47:47", "lastIntervention": "2020-08-17 15:00:00",
        "openedQuote": "26", "credit": "",
        "generictype_ID_customerpotential": "CUSTOMER_POTENTIAL-B", "lastVisit": "",
        "companyTurnover": "22839140", "companyTurnoverDate": "2018-11-23 00:00:00",
        "generictype_ID_companyTurnoverSlice": "COMPANY_TURNOVER_SLICE-CA20-50M",
        "generictype_ID_companyWorkforceSlice": "COMPANY_WORKFORCE_SLICE-EFF100-199",
        "companyWorkforce": "180", "companyWorkforceDate": "2018-03-30 00:00:00",
        "anonymizationDate": "", "openedTask": "0",
    }})
}

/// A third party of another webhook (prospect CTP, suspect CTSUS) as `import` would leave it,
/// with a user and a contact of its own and a customer that it pays for.
async fn insert_third_party(app: &TestWorker, code: &str, customer_type: &str) {
    let statements = [
        format!(
            r#"INSERT INTO sw_data_customer (codecustomer, name, "generictype_ID_customerType")
               VALUES ('{code}', 'CHEZ SOI', '{customer_type}')"#
        ),
        format!(
            r#"INSERT INTO sw_data_customeruser (codecustomeruser, "customer_ID", "baseuser_ID")
               VALUES ('{code}-95', '{code}', '95')"#
        ),
        format!(
            r#"INSERT INTO sw_data_customercontact (codecustomercontact, "customer_ID", "lastName")
               VALUES ('{code}-K1', '{code}', 'SOI')"#
        ),
        format!(
            r#"INSERT INTO sw_data_customer
                 (codecustomer, name, "generictype_ID_customerType", "customer_ID_paying")
               VALUES ('PAID-{code}', 'PAID BY {code}', 'CUSTOMER_TYPE-CTC', '{code}')"#
        ),
    ];
    for statement in &statements {
        sql(app, statement).await;
    }
}

/// Arrange, act and assert one recoding of 004's examples (`origin` of `origin_type` into
/// customer `C0000001`).
async fn recode_into_customer_and_check(origin: &str, origin_type: &str) {
    let app = spawn_worker().await;
    insert_third_party(&app, origin, origin_type).await;

    let reply = app
        .call("customer", recode_example("C0000001", origin))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "C0000001");
    assert_eq!(
        reply.body["created"],
        json!(false),
        "the record existed before"
    );
    assert_eq!(
        reply.body["result"]["customer"]["generictype_ID_customerType"],
        "CTC"
    );
    let row = app
        .row("sw_data_customer", "codecustomer", "C0000001")
        .await
        .expect("the new code exists");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTC");
    assert_eq!(row["name"], "CHEZ SOI");
    assert_eq!(
        app.row("sw_data_customer", "codecustomer", origin).await,
        None
    );
    let user = app
        .row(
            "sw_data_customeruser",
            "codecustomeruser",
            &format!("{origin}-95"),
        )
        .await
        .expect("the user");
    assert_eq!(user["customer_ID"], "C0000001");
    let contact = app
        .row(
            "sw_data_customercontact",
            "codecustomercontact",
            &format!("{origin}-K1"),
        )
        .await
        .expect("the contact");
    assert_eq!(contact["customer_ID"], "C0000001");
    let paid = app
        .row(
            "sw_data_customer",
            "codecustomer",
            &format!("PAID-{origin}"),
        )
        .await
        .expect("the paid customer");
    assert_eq!(paid["customer_ID_paying"], "C0000001");
    assert_eq!(app.count("SELECT count(*) FROM sw_data_customer").await, 2);
    app.stop().await;
}

/// Three customers that LIST's filters tell apart, and one CTE that none may show. Codes in
/// code order are not in name order.
async fn put_list_customers(app: &TestWorker) {
    let customers = [
        (
            "L7A",
            json!({"name": "CHARLIE BOULANGERIE", "generictype_ID_customerFamily": "GROSARTG",
                   "generictype_ID_country": "FR", "baseuser_ID": "GRO-OUES",
                   "branchoffice_ID": "SXB", "email": "contact@alpha.fr",
                   "siretNumber": "11111111100011", "city": "DIJON"}),
        ),
        (
            "L7B",
            json!({"name": "ALPHA boulangerie", "generictype_ID_customerFamily": "Est",
                   "baseuser_ID": "95", "branchoffice_ID": "Agence-01",
                   "email": "contact@alpha.fr.beta.com", "siretNumber": "22222222200022",
                   "city": "Dijon-Sud", "closedDate": "2020-01-01"}),
        ),
        (
            "L7C",
            json!({"name": "BRAVO", "generictype_ID_country": "COUNTRY-FR",
                   "baseuser_ID": "TECH1", "email": "info@alpha.fr", "city": "ST DIJON",
                   "closedDate": "2023-06-30 12:00:00"}),
        ),
        (
            "L7E",
            json!({"name": "ECHO BOULANGERIE", "generictype_ID_customerType": "CTE",
                   "generictype_ID_customerFamily": "GROSARTG", "generictype_ID_country": "FR",
                   "baseuser_ID": "GRO-OUES", "branchoffice_ID": "SXB",
                   "email": "contact@alpha.fr", "siretNumber": "11111111100011",
                   "city": "DIJON"}),
        ),
    ];
    for (code, fields) in customers {
        assert_ok(&app.call("customer", put_customer(code, fields)).await);
    }
}

async fn list_page(app: &TestWorker, limit: u32, offset: u32) -> Reply {
    app.call(
        "customer",
        json!({"verb": "LIST", "limit": limit, "offset": offset}),
    )
    .await
}

/// The codes of a LIST reply's items, in order.
fn list_codes(reply: &Reply) -> Vec<String> {
    reply.body["result"]["customer"]
        .as_array()
        .unwrap_or_else(|| panic!("a LIST result: {}", reply.body))
        .iter()
        .map(|item| {
            item["codecustomer"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The one dead letter of the customer queue, with its error code header.
async fn assert_dead_lettered(app: &TestWorker, code: &str) -> crate::helpers::DeadLetter {
    let mut letters = app.dead_letters("customer", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = letters.remove(0);
    assert_eq!(letter.header("webhook-error-code"), code);
    letter
}

/// Child lines of one shape share one statement (issue 8); lines of another shape, and a
/// code given twice, still end as if written one by one in request order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_lines_of_mixed_shapes_and_a_repeated_code_are_written_in_request_order() {
    let app = spawn_worker().await;
    let user = |code: &str, extra: Json| {
        let mut line = json!({"codecustomeruser": code, "customer_ID": "C0000042"});
        line.as_object_mut()
            .expect("object")
            .extend(extra.as_object().cloned().unwrap_or_default());
        line
    };
    let request = json!({"verb": "PUT",
    "customer": {"codecustomer": "C0000042", "name": "LIGNES"},
    "customeruser": [
        user("C0000042-A", json!({"baseuser_ID": "95", "generictype_ID_category": "CUSTOMERUSER_LINK-1"})),
        user("C0000042-B", json!({"baseuser_ID": "TECH1"})),
        user("C0000042-C", json!({"baseuser_ID": "95", "generictype_ID_category": "CUSTOMERUSER_LINK-2"})),
        user("C0000042-A", json!({"baseuser_ID": "TECH1", "generictype_ID_category": "CUSTOMERUSER_LINK-2"})),
    ]});

    let reply = app.call("customer", request).await;

    assert_ok(&reply);
    let line = |code: &'static str| {
        let app = &app;
        async move {
            app.row("sw_data_customeruser", "codecustomeruser", code)
                .await
                .unwrap_or_else(|| panic!("customeruser {code}"))
        }
    };
    let a = line("C0000042-A").await;
    assert_eq!(a["baseuser_ID"], "TECH1", "the later line wins: {a}");
    assert_eq!(a["generictype_ID_category"], "CUSTOMERUSER_LINK-2");
    let b = line("C0000042-B").await;
    assert_eq!(b["baseuser_ID"], "TECH1");
    assert_eq!(b["generictype_ID_category"], Json::Null);
    let c = line("C0000042-C").await;
    assert_eq!(c["generictype_ID_category"], "CUSTOMERUSER_LINK-2");
    assert_eq!(
        app.count(r#"SELECT count(*) FROM sw_data_customeruser WHERE "customer_ID" = 'C0000042'"#)
            .await,
        3
    );
    app.stop().await;
}
