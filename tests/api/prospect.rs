//! The Prospect webhook (seed 001, SPEC 8.1): the customer's table seen through the
//! prospect's names and scoped to type CTP. 001's PUT applied as written (with the customer's
//! names it mixes in, SPEC 11.3), GET in every result type compared with the fixtures built
//! from 001, the CTP scope (SPEC 11.6, 11.17), the main contact of a private individual,
//! recoding of a suspect into a prospect and of a prospect into a customer, LIST, DELETE.
//! Each test has its own worker, database and topology prefix. `tests/fixtures/README.md`
//! ("Prospect") says where each expected reply comes from.

use serde_json::{json, Map, Value as Json};

use crate::assertions::{assert_error, assert_json_in_order, assert_ok, detail_fields, keys};
use crate::helpers::{fixture, spawn_worker_with, test_settings, TestWorker};
use crate::helpers::{individual, insert_turnover_and_workforce_slices, main_contacts, sql};
use webhook_worker::call::Reply;

/// A worker serving the prospect webhook, the customer webhook (recoding into a customer,
/// customers that the prospect webhook must not show) and customerextension (indicators).
async fn spawn() -> TestWorker {
    spawn_worker_with(test_settings(&[
        "prospect",
        "customer",
        "customerextension",
    ]))
    .await
}

// ---------------------------------------------------------------------------------------
// PUT of 001's example
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_the_seed_example_creates_a_ctp_prospect_with_its_two_users_in_the_customer_tables()
{
    let app = spawn().await;

    let reply = app.call("prospect", fixture("prospect_put.json")).await;

    assert_ok(&reply);
    assert_eq!(reply.body["entity"], "prospect");
    assert_eq!(reply.body["code"], "P0000001");
    assert_eq!(reply.body["created"], json!(true));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("prospect_get_extended.json"),
    );
    let row = app
        .row("sw_data_customer", "codecustomer", "P0000001")
        .await
        .expect("the prospect is a row of sw_data_customer");
    for (column, stored) in [
        ("name", json!("CHEZ SOI")),
        ("baseuser_ID", json!("GRO-OUES")),
        ("address2", Json::Null),
        ("email", json!("contact@guichard.com")),
        ("website", json!("https://www.guichard.com")),
        // sent as generictype_ID_prospectType
        ("generictype_ID_customerType", json!("CUSTOMER_TYPE-CTP")),
        // sent under the customer's name generictype_ID_customerPotential (SPEC 11.3)
        (
            "generictype_ID_customerPotential",
            json!("CUSTOMER_POTENTIAL-B"),
        ),
        // sent as generictype_ID_prospectFamily
        (
            "generictype_ID_customerFamily",
            json!("CUSTOMER_FAMILY-GROSARTG"),
        ),
        ("customer_ID_paying", Json::Null),
        ("customergroup_ID", Json::Null),
        ("generictype_ID_country", json!("COUNTRY-FR")),
        ("generictype_ID_civility", json!("CIVILITY-SA")),
        (
            "generictype_ID_referencing",
            json!("PRODUCT_REFERENCING-NOTSTRICT"),
        ),
        ("discountRate", json!(0)),
        ("workforce", json!(23)),
        ("isIndividual", json!(false)),
        ("divinf_t001_ID_tafam", json!("GMS")),
        ("divinf_remtyp1", json!(2)),
    ] {
        assert_eq!(row[column], stored, "sw_data_customer.{column}");
    }
    for (code, baseuser, category) in [
        ("P0000001-95", "95", "CUSTOMERUSER_LINK-1"),
        ("P0000001-TECH1", "TECH1", "CUSTOMERUSER_LINK-2"),
    ] {
        let user = app
            .row("sw_data_customeruser", "codecustomeruser", code)
            .await
            .unwrap_or_else(|| panic!("prospectuser {code} in sw_data_customeruser"));
        assert_eq!(user["customer_ID"], "P0000001", "{code}");
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
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_put_of_the_seed_example_replies_created_false_and_changes_nothing() {
    let app = spawn().await;
    put_seed_prospect(&app).await;
    let before = business_rows(&app).await;

    let reply = app.call("prospect", fixture("prospect_put.json")).await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("prospect_get_extended.json"),
    );
    assert_eq!(business_rows(&app).await, before);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// GET, compared with the fixtures key by key and in order (SPEC 3, 10)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_simple_of_a_prospect_returns_the_seed_simple_example_keys_in_order() {
    let app = spawn().await;
    put_seed_prospect(&app).await;

    let reply = app
        .call(
            "prospect",
            json!({"verb": "GET", "code": "P0000001", "resultType": "simple"}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "P0000001");
    assert_json_in_order(&reply.body["result"], &fixture("prospect_get_simple.json"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_of_a_prospect_returns_the_seed_extended_keys_in_order_then_the_other_fields()
{
    let app = spawn().await;
    put_seed_prospect(&app).await;

    let reply = app
        .call(
            "prospect",
            json!({"verb": "GET", "code": "P0000001", "resultType": "extended"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("prospect_get_extended.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_of_a_prospect_adds_every_related_block_of_the_seed() {
    let app = spawn().await;
    put_seed_prospect(&app).await;

    let reply = app
        .call(
            "prospect",
            json!({"verb": "GET", "code": "P0000001", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("prospect_get_extended_related.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_indicators_of_a_prospect_uses_the_prospect_names_and_live_counts() {
    let app = spawn().await;
    put_seed_prospect(&app).await;
    insert_turnover_and_workforce_slices(&app).await;
    assert_ok(
        &app.call("customerextension", seed_indicators_put("P0000001"))
            .await,
    );

    let reply = app
        .call(
            "prospect",
            json!({"verb": "GET", "code": "P0000001", "resultType": "extended",
                   "settings": {"getIndicators": "1"}}),
        )
        .await;

    assert_ok(&reply);
    let mut expected = Map::new();
    expected.insert(
        "prospect".into(),
        fixture("prospect_get_extended.json")["prospect"].clone(),
    );
    expected.insert(
        "indicators".into(),
        fixture("prospect_indicators.json")["indicators"].clone(),
    );
    assert_json_in_order(&reply.body["result"], &Json::Object(expected));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_indicators_of_a_prospect_without_extension_row_gives_empty_figures_and_live_counts() {
    let app = spawn().await;
    put_seed_prospect(&app).await;

    let reply = app
        .call(
            "prospect",
            json!({"verb": "GET", "code": "P0000001", "settings": {"getIndicators": 1}}),
        )
        .await;

    assert_ok(&reply);
    let mut expected = fixture("prospect_indicators.json")["indicators"][0].clone();
    for (key, value) in expected.as_object_mut().expect("an indicators block") {
        *value = match key.as_str() {
            "prospect_ID" => json!("P0000001"),
            "openedContract" | "openedOpportunity" => json!("0"),
            _ => json!(""),
        };
    }
    assert_json_in_order(&reply.body["result"]["indicators"], &json!([expected]));
    assert_json_in_order(
        &reply.body["result"]["prospect"],
        &fixture("prospect_get_simple.json")["prospect"],
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Type CTP: the prospect webhook's scope (SPEC 8.1, 11.6, 11.17)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_created_without_a_type_is_ctp() {
    let app = spawn().await;

    let reply = app
        .call(
            "prospect",
            put_prospect("P0000002", json!({"name": "SANS TYPE"})),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(true));
    assert_eq!(
        reply.body["result"]["prospect"]["generictype_ID_prospectType"],
        "CTP"
    );
    let row = app
        .row("sw_data_customer", "codecustomer", "P0000002")
        .await
        .expect("the prospect row");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTP");
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_list_and_delete_of_the_prospect_webhook_see_only_ctp_rows() {
    let app = spawn().await;
    put_seed_prospect(&app).await;
    app.put_seed_customer().await;
    put_temporary_customer(&app, "E0000001").await;
    insert_third_party(&app, "S0000001", "CUSTOMER_TYPE-CTSUS").await;
    let before = app.snapshot().await;

    let mut hidden = Vec::new();
    for code in ["C0000001", "E0000001", "S0000001"] {
        for verb in ["GET", "DELETE"] {
            let reply = app
                .call("prospect", json!({"verb": verb, "code": code}))
                .await;
            hidden.push((format!("{verb} {code}"), reply));
        }
    }
    let list = app.call("prospect", json!({"verb": "LIST"})).await;
    let get = app
        .call("prospect", json!({"verb": "GET", "code": "P0000001"}))
        .await;

    for (request, reply) in &hidden {
        assert_eq!(reply.body["status"], "error", "{request}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "NOT_FOUND", "{request}");
    }
    assert_eq!(app.snapshot().await, before, "nothing deleted");
    assert_ok(&list);
    assert_eq!(list_codes(&list), ["P0000001"]);
    assert_eq!(list.body["total"], json!(1));
    assert_ok(&get);
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_put_naming_an_existing_customer_temporary_or_suspect_code_is_a_dead_lettered_conflict(
) {
    let app = spawn().await;
    app.put_seed_customer().await;
    put_temporary_customer(&app, "E0000001").await;
    insert_third_party(&app, "S0000001", "CUSTOMER_TYPE-CTSUS").await;
    let before = app.snapshot().await;
    let requests = [
        put_prospect("C0000001", json!({"name": "CHEZ SOI"})),
        put_prospect("E0000001", json!({"name": "CHEZ SOI"})),
        put_prospect(
            "S0000001",
            json!({"name": "CHEZ SOI", "generictype_ID_prospectType": "CUSTOMER_TYPE-CTP"}),
        ),
    ];

    let mut replies = Vec::new();
    for request in &requests {
        replies.push(app.call("prospect", request.clone()).await);
    }

    for reply in &replies {
        assert_error(reply, "CONFLICT");
    }
    assert_eq!(app.snapshot().await, before);
    let customer = app
        .row("sw_data_customer", "codecustomer", "C0000001")
        .await
        .expect("the customer is still there");
    assert_eq!(customer["generictype_ID_customerType"], "CUSTOMER_TYPE-CTC");
    assert_eq!(customer["name"], "ENTREPRISE DIJON GUICHARD");
    for (code, customer_type) in [
        ("E0000001", "CUSTOMER_TYPE-CTE"),
        ("S0000001", "CUSTOMER_TYPE-CTSUS"),
    ] {
        let row = app
            .row("sw_data_customer", "codecustomer", code)
            .await
            .expect("the row is still there");
        assert_eq!(row["generictype_ID_customerType"], customer_type, "{code}");
    }
    let letters = app.dead_letters("prospect", requests.len()).await;
    assert_eq!(letters.len(), requests.len(), "{letters:?}");
    for (letter, request) in letters.iter().zip(&requests) {
        assert_eq!(letter.header("webhook-error-code"), "CONFLICT");
        assert_eq!(&letter.body_json(), request);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_put_with_a_customer_type_is_validation_failed_naming_the_prospect_field() {
    let app = spawn().await;
    let before = app.snapshot().await;
    let requests = [
        put_prospect(
            "P0000003",
            json!({"name": "X", "generictype_ID_prospectType": "CUSTOMER_TYPE-CTC"}),
        ),
        // the customer's name and the bare originalCode (SPEC 11.3, 11.7)
        put_prospect(
            "P0000003",
            json!({"name": "X", "generictype_ID_customerType": "CTC"}),
        ),
    ];

    let mut replies = Vec::new();
    for request in &requests {
        replies.push(app.call("prospect", request.clone()).await);
    }

    for reply in &replies {
        assert_error(reply, "VALIDATION_FAILED");
        assert_eq!(detail_fields(reply), ["generictype_ID_prospectType"]);
    }
    assert_eq!(app.snapshot().await, before);
    let letters = app.dead_letters("prospect", requests.len()).await;
    assert_eq!(letters.len(), requests.len(), "{letters:?}");
    for letter in &letters {
        assert_eq!(letter.header("webhook-error-code"), "VALIDATION_FAILED");
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// isIndividual: the main contact (SPEC 8.1)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_individual_prospect_creates_its_main_contact_from_the_prospect() {
    let app = spawn().await;

    let reply = app
        .call("prospect", put_prospect("P0000004", individual("DUPONT")))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(true));
    let contacts = main_contacts(&app, "P0000004").await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    for (column, value) in [
        ("customer_ID", json!("P0000004")),
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
        assert_eq!(contacts[0][column], value, "customercontact.{column}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_an_individual_prospect_updates_its_one_main_contact() {
    let app = spawn().await;
    assert_ok(
        &app.call("prospect", put_prospect("P0000004", individual("DUPONT")))
            .await,
    );
    let created = main_contacts(&app, "P0000004").await;

    let reply = app
        .call(
            "prospect",
            put_prospect("P0000004", json!({"name": "DURAND", "city": "BEAUNE"})),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    let contacts = main_contacts(&app, "P0000004").await;
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
    let row = app
        .row("sw_data_customer", "codecustomer", "P0000004")
        .await
        .expect("the prospect row");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTP");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Recoding a suspect into a prospect (001's example, SPEC 8.1, 11.4, 11.6)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspect_recoded_with_internalcodeprospect_becomes_a_ctp_prospect_and_its_references_follow(
) {
    let app = spawn().await;
    insert_third_party(&app, "S0000001", "CUSTOMER_TYPE-CTSUS").await;

    let reply = app.call("prospect", suspect_recode_example()).await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "P0000001");
    assert_eq!(
        reply.body["created"],
        json!(false),
        "the record existed before"
    );
    let block = &reply.body["result"]["prospect"];
    assert_eq!(block["codeprospect"], "P0000001");
    assert_eq!(block["generictype_ID_prospectType"], "CTP");
    assert_eq!(block["name"], "CHEZ SOI");
    assert_recoded(&app, "S0000001", "P0000001", "CUSTOMER_TYPE-CTP").await;
    let get = app
        .call("prospect", json!({"verb": "GET", "code": "P0000001"}))
        .await;
    assert_ok(&get);
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspect_loaded_by_import_is_recoded_into_a_prospect() {
    let app = spawn().await;
    let data = json!({
        "customer": [{"codecustomer": "S0000001", "name": "SUSPECT",
                      "generictype_ID_customerType": "CUSTOMER_TYPE-CTSUS"}],
        "customeruser": [{"codecustomeruser": "S0000001-95", "customer_ID": "S0000001",
                          "baseuser_ID": "95"}],
    });
    let summary = webhook_worker::import::import(
        &app.pool,
        &webhook_worker::entities::Registry::standard(),
        &data,
    )
    .await
    .expect("an import file");
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    let suspect = app
        .row("sw_data_customer", "codecustomer", "S0000001")
        .await
        .expect("the imported suspect");
    assert_eq!(
        suspect["generictype_ID_customerType"],
        "CUSTOMER_TYPE-CTSUS"
    );

    let reply = app.call("prospect", suspect_recode_example()).await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    let row = app
        .row("sw_data_customer", "codecustomer", "P0000001")
        .await
        .expect("the prospect");
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTP");
    let user = app
        .row("sw_data_customeruser", "codecustomeruser", "S0000001-95")
        .await
        .expect("the user");
    assert_eq!(user["customer_ID"], "P0000001");
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspect_recoded_without_a_type_takes_the_prospect_type() {
    let app = spawn().await;
    insert_third_party(&app, "S0000001", "CUSTOMER_TYPE-CTSUS").await;
    let mut request = suspect_recode_example();
    request["prospect"]
        .as_object_mut()
        .expect("a prospect block")
        .remove("generictype_ID_customerType");

    let reply = app.call("prospect", request).await;

    assert_ok(&reply);
    assert_eq!(
        reply.body["result"]["prospect"]["generictype_ID_prospectType"],
        "CTP"
    );
    assert_recoded(&app, "S0000001", "P0000001", "CUSTOMER_TYPE-CTP").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recoding_a_suspect_onto_an_existing_prospect_is_a_dead_lettered_conflict() {
    let app = spawn().await;
    insert_third_party(&app, "S0000001", "CUSTOMER_TYPE-CTSUS").await;
    put_seed_prospect(&app).await;
    let before = app.snapshot().await;

    let reply = app.call("prospect", suspect_recode_example()).await;

    assert_error(&reply, "CONFLICT");
    assert_eq!(app.snapshot().await, before);
    let letters = app.dead_letters("prospect", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].header("webhook-error-code"), "CONFLICT");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recoding_from_a_missing_suspect_is_not_found_and_not_dead_lettered() {
    let app = spawn().await;
    let before = app.snapshot().await;

    let reply = app.call("prospect", suspect_recode_example()).await;

    assert_error(&reply, "NOT_FOUND");
    assert_eq!(app.snapshot().await, before);
    app.stop_and_check_no_dead_letter("prospect").await;
}

// ---------------------------------------------------------------------------------------
// LIST (SPEC 2, 3; 001's filters)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_filter_of_the_seed_selects_exactly_the_matching_prospects() {
    let app = spawn().await;
    put_list_prospects(&app).await;
    let cases: &[(Json, &[&str])] = &[
        (json!({"codeProspect": "P7B"}), &["P7B"]),
        (json!({"codeProspect": "P7"}), &[]),
        (json!({"codeProspect": "L7X"}), &[]),
        (json!({"name": "boulangerie"}), &["P7A", "P7B"]),
        (json!({"codeProspectFamily": "GROSARTG"}), &["P7A"]),
        (
            json!({"codeProspectFamily": "CUSTOMER_FAMILY-GROSARTG"}),
            &["P7A"],
        ),
        (json!({"codeProspectFamily": "Est"}), &["P7B"]),
        (json!({"codeCountry": "FR"}), &["P7A", "P7C"]),
        (json!({"codeCountry": "COUNTRY-FR"}), &["P7A", "P7C"]),
        (json!({"codeBaseuser": "GRO-OUES"}), &["P7A"]),
        (json!({"codeBaseuser": "gro-oues"}), &[]),
        (json!({"codeBranchoffice": "SXB"}), &["P7A"]),
        (json!({"email": "contact@alpha.fr"}), &["P7A"]),
        (json!({"emailDomain": "@alpha.fr"}), &["P7A", "P7C"]),
        (json!({"emailDomain": "@ALPHA.FR"}), &["P7A", "P7C"]),
        (json!({"siretNumber": "11111111100011"}), &["P7A"]),
        (json!({"siretNumber": "111111111"}), &[]),
        (json!({"city": "dij"}), &["P7A", "P7B"]),
        (json!({"notClosedBefore": "2021-01-01"}), &["P7A", "P7C"]),
        (json!({"notClosedBefore": "2023-06-30 12:00:00"}), &["P7A"]),
        (
            json!({"name": "boulangerie", "codeCountry": "FR"}),
            &["P7A"],
        ),
    ];

    for (filters, expected) in cases {
        let reply = app
            .call("prospect", json!({"verb": "LIST", "filters": filters}))
            .await;

        assert_ok(&reply);
        assert_eq!(list_codes(&reply), *expected, "filters {filters}");
        assert_eq!(
            reply.body["total"],
            json!(expected.len()),
            "filters {filters}"
        );
    }
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prospect_list_orders_by_code_by_default_and_by_name_with_name_asc() {
    let app = spawn().await;
    put_list_prospects(&app).await;

    let by_code = app
        .call("prospect", json!({"verb": "LIST", "resultType": "simple"}))
        .await;
    let by_name = app
        .call("prospect", json!({"verb": "LIST", "orderBy": "nameAsc"}))
        .await;

    assert_ok(&by_code);
    assert_eq!(list_codes(&by_code), ["P7A", "P7B", "P7C"]);
    assert_eq!(
        keys(&by_code.body["result"]["prospect"][0]),
        keys(&fixture("prospect_get_simple.json")["prospect"]),
        "each item is shaped as GET simple, with the prospect's names"
    );
    assert_ok(&by_name);
    assert_eq!(list_codes(&by_name), ["P7B", "P7C", "P7A"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prospect_list_pages_with_limit_offset_total_count_and_has_more() {
    let app = spawn().await;
    for code in ["P7P1", "P7P2", "P7P3", "P7P4", "P7P5"] {
        assert_ok(
            &app.call("prospect", put_prospect(code, json!({"name": code})))
                .await,
        );
    }
    // A customer between the prospects in code order: never on a prospect page.
    assert_ok(
        &app.call(
            "customer",
            json!({"verb": "PUT", "customer": {"codecustomer": "P7P25", "name": "P7P25"}}),
        )
        .await,
    );

    let default = app.call("prospect", json!({"verb": "LIST"})).await;
    let first = prospect_page(&app, 2, 0).await;
    let middle = prospect_page(&app, 2, 2).await;
    let last = prospect_page(&app, 2, 4).await;

    for (reply, codes, limit, offset, has_more) in [
        (
            &default,
            &["P7P1", "P7P2", "P7P3", "P7P4", "P7P5"][..],
            100,
            0,
            false,
        ),
        (&first, &["P7P1", "P7P2"][..], 2, 0, true),
        (&middle, &["P7P3", "P7P4"][..], 2, 2, true),
        (&last, &["P7P5"][..], 2, 4, false),
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
async fn the_customer_only_list_filters_are_invalid_requests_for_the_prospect() {
    // 001 lists neither `customerType` nor the customer's names `codeCustomer` and
    // `customerFamily`.
    let app = spawn().await;
    let requests = [
        json!({"verb": "LIST", "filters": {"customerType": "CTP"}}),
        json!({"verb": "LIST", "filters": {"codeCustomer": "P0000001"}}),
        json!({"verb": "LIST", "filters": {"customerFamily": "GROSARTG"}}),
    ];

    for request in &requests {
        let reply = app.call("prospect", request.clone()).await;

        assert_error(&reply, "INVALID_REQUEST");
    }
    let letters = app.dead_letters("prospect", requests.len()).await;
    assert_eq!(letters.len(), requests.len());
    for (letter, request) in letters.iter().zip(&requests) {
        assert_eq!(letter.header("webhook-error-code"), "INVALID_REQUEST");
        assert_eq!(&letter.body_json(), request);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// DELETE (SPEC 8.1, 11.13)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_prospect_cascades_and_counts_its_users_under_prospectuser() {
    let app = spawn().await;
    let mut seed = fixture("prospect_put.json");
    seed["prospect"]["isIndividual"] = json!("1");
    assert_ok(&app.call("prospect", seed).await);
    insert_turnover_and_workforce_slices(&app).await;
    assert_ok(
        &app.call("customerextension", seed_indicators_put("P0000001"))
            .await,
    );
    assert_eq!(main_contacts(&app, "P0000001").await.len(), 1);

    let reply = app
        .call("prospect", json!({"verb": "DELETE", "code": "P0000001"}))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["entity"], "prospect");
    assert_eq!(reply.body["code"], "P0000001");
    assert_eq!(
        reply.body["deleted"],
        json!({"prospect": 1, "prospectuser": 2, "customercontact": 1, "customerextension": 1})
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
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_prospect_without_users_counts_zero_prospectusers() {
    let app = spawn().await;
    assert_ok(
        &app.call(
            "prospect",
            put_prospect("P0000005", json!({"name": "SEUL"})),
        )
        .await,
    );

    let reply = app
        .call("prospect", json!({"verb": "DELETE", "code": "P0000005"}))
        .await;

    assert_ok(&reply);
    assert_eq!(
        reply.body["deleted"],
        json!({"prospect": 1, "prospectuser": 0})
    );
    assert_eq!(app.count("SELECT count(*) FROM sw_data_customer").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_prospect_still_paid_for_by_another_is_a_dead_lettered_conflict() {
    let app = spawn().await;
    put_seed_prospect(&app).await;
    put_subsidiary_paid_by(&app, "P0000002", "P0000001").await;
    let before = app.snapshot().await;

    let reply = app
        .call("prospect", json!({"verb": "DELETE", "code": "P0000001"}))
        .await;

    assert_error(&reply, "CONFLICT");
    let details = reply.body["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0]["value"], "P0000001");
    assert_eq!(
        details[0]["references"],
        "sw_data_customer.customer_ID_paying"
    );
    assert_eq!(app.snapshot().await, before);
    let letters = app.dead_letters("prospect", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].header("webhook-error-code"), "CONFLICT");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_conflict_between_two_prospects_names_the_prospect_field() {
    let app = spawn().await;
    put_seed_prospect(&app).await;
    put_subsidiary_paid_by(&app, "P0000002", "P0000001").await;

    let reply = app
        .call("prospect", json!({"verb": "DELETE", "code": "P0000001"}))
        .await;

    assert_error(&reply, "CONFLICT");
    let detail = &reply.body["error"]["details"][0];
    assert_eq!(detail["block"], "prospect", "{detail}");
    assert_eq!(detail["field"], "prospect_ID_paying", "{detail}");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// A prospect recoded into a customer (004's example, SPEC 8.1, 11.6)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_recoded_into_a_customer_keeps_its_references_and_moves_to_the_customer_webhook()
{
    let app = spawn().await;
    let mut seed = fixture("prospect_put.json");
    seed["prospect"]["isIndividual"] = json!("1");
    assert_ok(&app.call("prospect", seed).await);
    insert_turnover_and_workforce_slices(&app).await;
    assert_ok(
        &app.call("customerextension", seed_indicators_put("P0000001"))
            .await,
    );
    let contact = main_contacts(&app, "P0000001").await[0]["codecustomercontact"].clone();

    let reply = app
        .call(
            "customer",
            json!({"verb": "PUT", "customer": {
                "codecustomer": "C0000001", "name": "CHEZ SOI",
                "generictype_ID_customerType": "CUSTOMER_TYPE-CTC",
                "internalcodecustomer": "P0000001"}}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "C0000001");
    assert_eq!(reply.body["created"], json!(false));
    let block = &reply.body["result"]["customer"];
    assert_eq!(block["generictype_ID_customerType"], "CTC");
    // every other field of the prospect is kept
    assert_eq!(block["email"], "contact@guichard.com");
    assert_eq!(block["generictype_ID_customerPotential"], "B");
    assert_eq!(block["workforce"], "23");
    assert_eq!(
        app.row("sw_data_customer", "codecustomer", "P0000001")
            .await,
        None
    );
    for user in ["P0000001-95", "P0000001-TECH1"] {
        let row = app
            .row("sw_data_customeruser", "codecustomeruser", user)
            .await
            .unwrap_or_else(|| panic!("user {user}"));
        assert_eq!(row["customer_ID"], "C0000001", "{user}");
    }
    let contacts = main_contacts(&app, "C0000001").await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0]["codecustomercontact"], contact);
    assert_eq!(
        app.count("SELECT count(*) FROM sw_data_customercontact")
            .await,
        1
    );
    let extension = app
        .row(
            "sw_data_customerextension",
            "codecustomerextension",
            "30000000493",
        )
        .await
        .expect("the extension row");
    assert_eq!(extension["customer_ID"], "C0000001");

    let as_customer = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "settings": {"getIndicators": "1"}}),
        )
        .await;
    let customers = app.call("customer", json!({"verb": "LIST"})).await;
    let old_code = app
        .call("prospect", json!({"verb": "GET", "code": "P0000001"}))
        .await;
    let new_code = app
        .call("prospect", json!({"verb": "GET", "code": "C0000001"}))
        .await;
    let prospects = app.call("prospect", json!({"verb": "LIST"})).await;

    assert_ok(&as_customer);
    assert_eq!(
        as_customer.body["result"]["indicators"][0]["customer_ID"],
        "C0000001"
    );
    assert_eq!(
        as_customer.body["result"]["indicators"][0]["codecustomerextension"],
        "30000000493"
    );
    assert_ok(&customers);
    assert_eq!(
        customers.body["result"]["customer"][0]["codecustomer"],
        "C0000001"
    );
    assert_eq!(customers.body["total"], json!(1));
    assert_error(&old_code, "NOT_FOUND");
    assert_error(&new_code, "NOT_FOUND");
    assert_ok(&prospects);
    assert_eq!(prospects.body["total"], json!(0));
    assert_eq!(list_codes(&prospects), Vec::<String>::new());
    app.stop_and_check_no_dead_letter("prospect").await;
}

// ---------------------------------------------------------------------------------------
// The customer's names in a prospect request (SPEC 11.2, 11.3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_field_names_are_accepted_in_prospect_blocks_and_replies_use_the_prospect_names(
) {
    let app = spawn().await;
    put_seed_prospect(&app).await;
    let customer_names = [
        "codecustomer",
        "customer_ID_paying",
        "generictype_ID_customerFamily",
        "generictype_ID_customerType",
        "generictype_ID_customerPotential",
        "customergroup_ID",
    ];

    let reply = app
        .call(
            "prospect",
            json!({"verb": "PUT",
            "prospect": {
                "codecustomer": "P0000002", "name": "PAR LES NOMS CLIENT",
                "customer_ID_paying": "P0000001",
                "generictype_ID_customerFamily": "GROSARTG",
                "generictype_ID_customerType": "CUSTOMER_TYPE-CTP",
                "generictype_ID_customerPotential": "B",
                "customergroup_ID": null,
            },
            "prospectuser": [
                {"codecustomeruser": "P0000002-95", "customer_ID": "P0000002",
                 "baseuser_ID": "95"},
                {"CodeProspectUser": "P0000002-TECH1", "baseuser_ID": "TECH1"},
            ]}),
        )
        .await;
    let get = app
        .call(
            "prospect",
            json!({"verb": "GET", "code": "P0000002", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "P0000002");
    assert_eq!(reply.body["created"], json!(true));
    let expected_keys = keys(&fixture("prospect_get_extended.json")["prospect"]);
    for result in [&reply.body["result"], &get.body["result"]] {
        let block = &result["prospect"];
        assert_eq!(keys(block), expected_keys, "the prospect's names, in order");
        for (key, value) in [
            ("codeprospect", "P0000002"),
            ("prospect_ID_paying", "P0000001"),
            ("generictype_ID_prospectFamily", "GROSARTG"),
            ("generictype_ID_prospectType", "CTP"),
            ("generictype_ID_prospectPotential", "B"),
            ("prospectgroup_ID", ""),
        ] {
            assert_eq!(block[key], value, "{key}");
        }
        for name in customer_names {
            assert!(block.get(name).is_none(), "{name} in {block}");
        }
    }
    assert_ok(&get);
    let related = &get.body["result"]["related"][0];
    assert_eq!(
        related["generictype_prospectFamily"]["codegenerictype"],
        "CUSTOMER_FAMILY-GROSARTG"
    );
    assert!(related.get("generictype_customerFamily").is_none());
    let row = app
        .row("sw_data_customer", "codecustomer", "P0000002")
        .await
        .expect("the prospect row");
    assert_eq!(row["customer_ID_paying"], "P0000001");
    assert_eq!(
        row["generictype_ID_customerFamily"],
        "CUSTOMER_FAMILY-GROSARTG"
    );
    assert_eq!(row["generictype_ID_customerType"], "CUSTOMER_TYPE-CTP");
    assert_eq!(
        row["generictype_ID_customerPotential"],
        "CUSTOMER_POTENTIAL-B"
    );
    for user in ["P0000002-95", "P0000002-TECH1"] {
        let row = app
            .row("sw_data_customeruser", "codecustomeruser", user)
            .await
            .unwrap_or_else(|| panic!("user {user}"));
        assert_eq!(row["customer_ID"], "P0000002", "{user}");
    }
    app.stop_and_check_no_dead_letter("prospect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_value_sent_under_a_customer_name_is_reported_under_the_prospect_name() {
    let app = spawn().await;
    let before = app.snapshot().await;

    let reply = app
        .call(
            "prospect",
            put_prospect(
                "P0000006",
                json!({"name": "X", "generictype_ID_customerFamily": "NOPE",
                       "customer_ID_paying": "NOBODY"}),
            ),
        )
        .await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    let mut fields = detail_fields(&reply);
    fields.sort();
    assert_eq!(
        fields,
        ["generictype_ID_prospectFamily", "prospect_ID_paying"]
    );
    assert_eq!(app.snapshot().await, before);
    let letters = app.dead_letters("prospect", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        letters[0].header("webhook-error-code"),
        "INVALID_FOREIGN_KEY"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Every row of the third-party tables: `snapshot()` without the idempotency records, which
/// an applied PUT adds by design.
async fn business_rows(app: &TestWorker) -> Vec<String> {
    let mut all = Vec::new();
    for table in [
        "sw_data_customer",
        "sw_data_customeruser",
        "sw_data_customercontact",
        "sw_data_customerextension",
    ] {
        let sql = format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1");
        let rows: Vec<String> = sqlx::query_scalar(&sql)
            .fetch_all(&app.pool)
            .await
            .expect("rows");
        all.extend(rows);
    }
    all
}

/// PUT 001's example and check that it applied.
async fn put_seed_prospect(app: &TestWorker) {
    let reply = app.call("prospect", fixture("prospect_put.json")).await;
    assert_ok(&reply);
}

/// A prospect PUT: `{"verb":"PUT","prospect":{"codeprospect": code, ...fields}}`.
fn put_prospect(code: &str, fields: Json) -> Json {
    let mut block = Map::new();
    block.insert("codeprospect".into(), json!(code));
    block.extend(fields.as_object().cloned().unwrap_or_default());
    json!({"verb": "PUT", "prospect": block})
}

/// A CTE (temporary) customer, written through the customer webhook.
async fn put_temporary_customer(app: &TestWorker, code: &str) {
    let reply = app
        .call(
            "customer",
            json!({"verb": "PUT", "customer": {"codecustomer": code, "name": "TEMPORAIRE",
                   "generictype_ID_customerType": "CTE"}}),
        )
        .await;
    assert_ok(&reply);
}

/// A prospect `code` whose paying third party is the prospect `payer`.
async fn put_subsidiary_paid_by(app: &TestWorker, code: &str, payer: &str) {
    let reply = app
        .call(
            "prospect",
            put_prospect(
                code,
                json!({"name": "FILIALE", "prospect_ID_paying": payer}),
            ),
        )
        .await;
    assert_ok(&reply);
}

/// 001's "recodification d'un suspect en prospect" example, as written.
fn suspect_recode_example() -> Json {
    json!({"verb": "PUT", "prospect": {
        "codeprospect": "P0000001",
        "name": "CHEZ SOI",
        "generictype_ID_customerType": "CUSTOMER_TYPE-CTP",
        "internalcodeprospect": "S0000001"}})
}

/// 001's indicators row as a customerextension PUT: its figures without the live counts,
/// `customer_ID` = the prospect's code (SPEC 11.12), the slices as generictype codes.
fn seed_indicators_put(code: &str) -> Json {
    json!({"verb": "PUT", "customerextension": {
        "codecustomerextension": "30000000493", "customer_ID": code,
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

/// A third party that no webhook writes (a CTSUS suspect comes from `import`, SPEC 11.6), as
/// SQL leaves it: with a user and a contact of its own and a customer that it pays for.
async fn insert_third_party(app: &TestWorker, code: &str, customer_type: &str) {
    let statements = [
        format!(
            r#"INSERT INTO sw_data_customer (codecustomer, name, "generictype_ID_customerType")
               VALUES ('{code}', 'SUSPECT {code}', '{customer_type}')"#
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

/// `origin` (inserted by `insert_third_party`) now is `code` of `code_type`, and its user,
/// contact and paid customer follow.
async fn assert_recoded(app: &TestWorker, origin: &str, code: &str, code_type: &str) {
    let row = app
        .row("sw_data_customer", "codecustomer", code)
        .await
        .expect("the new code exists");
    assert_eq!(row["generictype_ID_customerType"], code_type);
    assert_eq!(row["name"], "CHEZ SOI");
    assert_eq!(
        app.row("sw_data_customer", "codecustomer", origin).await,
        None,
        "the origin code is gone"
    );
    let user = app
        .row(
            "sw_data_customeruser",
            "codecustomeruser",
            &format!("{origin}-95"),
        )
        .await
        .expect("the user");
    assert_eq!(user["customer_ID"], code);
    let contact = app
        .row(
            "sw_data_customercontact",
            "codecustomercontact",
            &format!("{origin}-K1"),
        )
        .await
        .expect("the contact");
    assert_eq!(contact["customer_ID"], code);
    let paid = app
        .row(
            "sw_data_customer",
            "codecustomer",
            &format!("PAID-{origin}"),
        )
        .await
        .expect("the paid customer");
    assert_eq!(paid["customer_ID_paying"], code);
    assert_eq!(app.count("SELECT count(*) FROM sw_data_customer").await, 2);
}

/// Three prospects that LIST's filters tell apart (codes in code order are not in name
/// order), and a customer and a suspect that match every filter P7A matches: neither may
/// show.
async fn put_list_prospects(app: &TestWorker) {
    let prospects = [
        (
            "P7A",
            json!({"name": "CHARLIE BOULANGERIE", "generictype_ID_prospectFamily": "GROSARTG",
                   "generictype_ID_country": "FR", "baseuser_ID": "GRO-OUES",
                   "branchoffice_ID": "SXB", "email": "contact@alpha.fr",
                   "siretNumber": "11111111100011", "city": "DIJON"}),
        ),
        (
            "P7B",
            json!({"name": "ALPHA boulangerie", "generictype_ID_prospectFamily": "Est",
                   "baseuser_ID": "95", "branchoffice_ID": "Agence-01",
                   "email": "contact@alpha.fr.beta.com", "siretNumber": "22222222200022",
                   "city": "Dijon-Sud", "closedDate": "2020-01-01"}),
        ),
        (
            "P7C",
            json!({"name": "BRAVO", "generictype_ID_country": "COUNTRY-FR",
                   "baseuser_ID": "TECH1", "email": "info@alpha.fr", "city": "ST DIJON",
                   "closedDate": "2023-06-30 12:00:00"}),
        ),
    ];
    for (code, fields) in prospects {
        assert_ok(&app.call("prospect", put_prospect(code, fields)).await);
    }
    assert_ok(
        &app.call(
            "customer",
            json!({"verb": "PUT", "customer": {
                "codecustomer": "L7X", "name": "DELTA BOULANGERIE",
                "generictype_ID_customerFamily": "GROSARTG", "generictype_ID_country": "FR",
                "baseuser_ID": "GRO-OUES", "branchoffice_ID": "SXB",
                "email": "contact@alpha.fr", "siretNumber": "11111111100011",
                "city": "DIJON"}}),
        )
        .await,
    );
    sql(
        app,
        r#"INSERT INTO sw_data_customer
             (codecustomer, name, "generictype_ID_customerType", "generictype_ID_customerFamily",
              "generictype_ID_country", "baseuser_ID", "branchoffice_ID", email, "siretNumber",
              city)
           VALUES ('P7S', 'ECHO BOULANGERIE', 'CUSTOMER_TYPE-CTSUS', 'CUSTOMER_FAMILY-GROSARTG',
                   'COUNTRY-FR', 'GRO-OUES', 'SXB', 'contact@alpha.fr', '11111111100011',
                   'DIJON')"#,
    )
    .await;
}

async fn prospect_page(app: &TestWorker, limit: u32, offset: u32) -> Reply {
    app.call(
        "prospect",
        json!({"verb": "LIST", "limit": limit, "offset": offset}),
    )
    .await
}

/// The codes of a prospect LIST reply's items, in order.
fn list_codes(reply: &Reply) -> Vec<String> {
    reply.body["result"]["prospect"]
        .as_array()
        .unwrap_or_else(|| panic!("a prospect LIST result: {}", reply.body))
        .iter()
        .map(|item| {
            item["codeprospect"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}
