//! The Opportunity webhook (seed 003, SPEC 8.4, 11.10, 11.11, 11.15): 003's PUT applied as
//! written, GET in every result type compared with the fixtures built from the seed, the
//! create defaults, the two rules (project type, status of the current step), the forbidden
//! `dealelement` block, dynamic fields, `getPartners`, every LIST filter and orderBy of 003,
//! and DELETE. Each test has its own worker, database and topology prefix.
//! `tests/fixtures/README.md` ("Opportunity") says where each expected reply comes from.

use serde_json::{json, Map, Value as Json};

use crate::assertions::{assert_error, assert_json_in_order, assert_ok, detail_fields, keys};
use crate::helpers::import;
use crate::helpers::{fixture, spawn_worker_with, test_settings, DeadLetter, TestWorker};
use webhook_worker::call::Reply;

/// The queues these tests talk to.
const ENTITIES: &[&str] = &["opportunity", "customer", "dealpartner"];

// ---------------------------------------------------------------------------------------
// PUT of 003's example
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_the_seed_example_creates_the_opportunity_its_step_and_its_address_link() {
    let app = spawn_with_seed_customer().await;

    let reply = app
        .call("opportunity", fixture("opportunity_put.json"))
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "PRJ000011");
    assert_eq!(reply.body["created"], json!(true));
    assert_json_in_order(
        &reply.body["result"],
        &fixture("opportunity_get_extended.json"),
    );
    let row = deal(&app, "PRJ000011").await;
    for (column, stored) in [
        ("customer_ID", json!("C0000001")),
        ("label", json!("Vitrine de magasin")),
        ("creationDate", json!("2021-12-01T00:00:00")),
        ("generictype_ID_dealType", json!("DEAL_DEALTYPE-PRJ")),
        ("generictype_ID_status", json!("OPPORTUNITY_STATUS-1")),
        ("dealNumber", json!("PRJ000011")),
        ("description", Json::Null),
        ("amount", json!(300)),
        ("probability", json!(55)),
        ("baseuser_ID", Json::Null),
        ("dealstep_ID_current", Json::Null),
        ("manualProbability", json!(false)),
        ("customercontact_ID", json!("C0000001-DJ")),
        (
            "dynamicfields",
            json!({"prj10": "100000", "prj30": "Jean-René Abraham"}),
        ),
    ] {
        assert_eq!(row[column], stored, "sw_data_deal.{column}");
    }
    let steps = rows_of(&app, "sw_data_dealstep", "PRJ000011").await;
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0]["dealsteptype_ID"], "DEAL_STEP-PRJ-C");
    assert_eq!(steps[0]["stepDate"], "2023-09-12T10:00:00");
    assert_generated_code(&steps[0]["codedealstep"], "PRJ000011");
    let links = rows_of(&app, "sw_data_customeraddressdeal", "PRJ000011").await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["customeraddress_ID"], "C0000001-SXB");
    assert_generated_code(&links[0]["codecustomeraddressdeal"], "PRJ000011");
    app.stop_and_check_no_dead_letter("opportunity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deal_names_of_the_seed_get_example_are_accepted_on_input_and_answered_with_opportunity_names(
) {
    let app = spawn_with_seed_customer().await;

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "PUT", "opportunity": {
                "codedeal": "PRJ000013", "dealNumber": "N-13",
                "generictype_ID_dealType": "PRJ", "customer_ID": "C0000001"}}),
        )
        .await;

    assert_ok(&reply);
    let block = &reply.body["result"]["opportunity"];
    assert_eq!(block["codeopportunity"], "PRJ000013");
    assert_eq!(block["opportunityNumber"], "N-13");
    assert_eq!(block["generictype_ID_opportunityType"], "PRJ");
    assert!(block.get("codedeal").is_none(), "{block}");
    let row = deal(&app, "PRJ000013").await;
    assert_eq!(row["dealNumber"], "N-13");
    assert_eq!(row["generictype_ID_dealType"], "DEAL_DEALTYPE-PRJ");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// GET, compared with the fixtures key by key and in order (SPEC 3, 10)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_simple_returns_the_seed_simple_keys_with_the_opportunity_names() {
    let app = spawn_with_seed_opportunity().await;

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "GET", "code": "PRJ000011", "resultType": "simple"}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "PRJ000011");
    assert_json_in_order(
        &reply.body["result"],
        &fixture("opportunity_get_simple.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_returns_the_seed_extended_keys_then_is_project_external_reference_and_dynamic_fields(
) {
    let app = spawn_with_seed_opportunity().await;

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "GET", "code": "PRJ000011", "resultType": "extended"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("opportunity_get_extended.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_adds_the_type_status_customer_contact_baseuser_and_current_step_blocks(
) {
    let app = spawn_with_seed_opportunity().await;
    let update = app
        .call("opportunity", fixture("opportunity_put_current_step.json"))
        .await;
    assert_ok(&update);

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "GET", "code": "PRJ000011", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    assert_json_in_order(
        &reply.body["result"],
        &fixture("opportunity_get_extended_related.json"),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_extended_related_of_an_opportunity_without_contact_user_or_step_gives_blocks_of_empty_keys(
) {
    let app = spawn_with_seed_customer().await;
    assert_ok(
        &app.call("opportunity", put_opportunity("PRJ000014", json!({})))
            .await,
    );

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "GET", "code": "PRJ000014", "resultType": "extendedRelated"}),
        )
        .await;

    assert_ok(&reply);
    let related = &reply.body["result"]["related"][0];
    for key in ["customercontact", "baseuser", "opportunitystep_current"] {
        let block = related[key].as_object().unwrap_or_else(|| panic!("{key}"));
        assert!(!block.is_empty(), "{key}");
        assert!(
            block.values().all(|v| v == ""),
            "{key} has every key \"\": {block:?}"
        );
    }
    assert_eq!(
        related["generictype_status"]["codegenerictype"],
        "OPPORTUNITY_STATUS-1"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Defaults (SPEC 8.4, 11.8)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_opportunity_gets_today_the_active_status_generated_child_codes_its_own_code_and_step_date_now(
) {
    let app = spawn_with_seed_customer().await;
    let before = now_to_the_second();

    let reply = app
        .call(
            "opportunity",
            json!({
                "verb": "PUT",
                "opportunity": {"codeopportunity": "PRJ000012", "customer_ID": "C0000001",
                                "generictype_ID_opportunityType": "PRJ", "creationDate": ""},
                "opportunitystep": [
                    {"codeopportunitystep": "", "opportunitysteptype_ID": "DEAL_STEP-PRJ-O",
                     "stepDate": ""},
                    {"opportunity_ID": "", "opportunitysteptype_ID": "DEAL_STEP-PRJ-O"}
                ],
                "customeraddressopportunity": [{"customeraddress_ID": "C0000001-SXB"}]
            }),
        )
        .await;
    let after = chrono::Local::now().naive_local();

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(true));
    let today = chrono::Local::now()
        .date_naive()
        .format("%Y-%m-%d 00:00:00");
    let block = &reply.body["result"]["opportunity"];
    assert_eq!(block["creationDate"], today.to_string());
    assert_eq!(block["generictype_ID_status"], "1");
    let row = deal(&app, "PRJ000012").await;
    assert_eq!(row["generictype_ID_status"], "OPPORTUNITY_STATUS-1");
    let steps = rows_of(&app, "sw_data_dealstep", "PRJ000012").await;
    assert_eq!(steps.len(), 2, "both steps default to the opportunity");
    assert_ne!(steps[0]["codedealstep"], steps[1]["codedealstep"]);
    for step in &steps {
        assert_generated_code(&step["codedealstep"], "PRJ000012");
        let date = step["stepDate"].as_str().expect("a step date");
        let date = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S")
            .unwrap_or_else(|e| panic!("{date}: {e}"));
        assert!(
            before <= date && date <= after,
            "{date} is now ({before}..{after})"
        );
    }
    let links = rows_of(&app, "sw_data_customeraddressdeal", "PRJ000012").await;
    assert_eq!(links.len(), 1);
    assert_generated_code(&links[0]["codecustomeraddressdeal"], "PRJ000012");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_changes_only_the_fields_it_sends_and_the_defaults_apply_only_on_create() {
    let app = spawn_with_seed_opportunity().await;

    let reply = app
        .call(
            "opportunity",
            put_opportunity(
                "PRJ000011",
                json!({"label": "Vitrine rénovée", "generictype_ID_status": "2", "amount": ""}),
            ),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["created"], json!(false));
    let block = &reply.body["result"]["opportunity"];
    assert_eq!(block["label"], "Vitrine rénovée");
    assert_eq!(block["generictype_ID_status"], "2");
    assert_eq!(block["amount"], "", "\"\" clears on update (SPEC 11.8)");
    assert_eq!(block["creationDate"], "2021-12-01 00:00:00");
    assert_eq!(block["customercontact_ID"], "C0000001-DJ");
    assert_eq!(block["v_prj30"], "Jean-René Abraham");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// The current step and its status (SPEC 8.4, 11.11)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_complements_example_as_written_is_a_dead_lettered_invalid_foreign_key_naming_the_current_step(
) {
    let app = spawn_with_seed_opportunity().await;
    let before = deal_snapshot(&app).await;

    let reply = app
        .call("opportunity", fixture("opportunity_put_complements.json"))
        .await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    assert_eq!(reply.body["code"], "PRJ000011");
    let details = reply.body["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0]["block"], "opportunity");
    assert_eq!(details[0]["field"], "opportunitystep_ID_current");
    assert_eq!(details[0]["value"], "PRJ000011-C");
    assert_eq!(details[0]["references"], "sw_data_dealstep.codedealstep");
    assert_eq!(deal_snapshot(&app).await, before);
    let letter = assert_dead_lettered(&app, "INVALID_FOREIGN_KEY").await;
    assert_eq!(
        letter.body_json(),
        fixture("opportunity_put_complements.json")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_complements_example_with_a_matching_step_code_applies_and_the_opportunity_takes_the_step_type_status(
) {
    let app = spawn_with_seed_opportunity().await;
    let mut request = fixture("opportunity_put_complements.json");
    request["opportunitystep"][0]["codeopportunitystep"] = json!("PRJ000011-C");

    let reply = app.call("opportunity", request).await;

    assert_ok(&reply);
    let block = &reply.body["result"]["opportunity"];
    assert_eq!(block["opportunitystep_ID_current"], "PRJ000011-C");
    assert_eq!(
        block["generictype_ID_status"], "2",
        "DEAL_STEP-PRJ-C's status"
    );
    let row = deal(&app, "PRJ000011").await;
    assert_eq!(row["dealstep_ID_current"], "PRJ000011-C");
    assert_eq!(row["generictype_ID_status"], "OPPORTUNITY_STATUS-2");
    let step = app
        .row("sw_data_dealstep", "codedealstep", "PRJ000011-C")
        .await
        .expect("the step");
    assert_eq!(step["deal_ID"], "PRJ000011");
    assert_eq!(step["dealsteptype_ID"], "DEAL_STEP-PRJ-C");
    app.stop_and_check_no_dead_letter("opportunity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_step_made_current_gives_the_opportunity_its_type_status_and_a_step_without_status_keeps_it(
) {
    let app = spawn_with_seed_opportunity().await;
    let steps = app
        .call(
            "opportunity",
            json!({"verb": "PUT", "opportunity": {"codeopportunity": "PRJ000011"},
                   "opportunitystep": [
                       {"codeopportunitystep": "PRJ000011-O", "opportunitysteptype_ID": "DEAL_STEP-PRJ-O"},
                       {"codeopportunitystep": "PRJ000011-C", "opportunitysteptype_ID": "DEAL_STEP-PRJ-C"}]}),
        )
        .await;
    assert_ok(&steps);

    let open = app
        .call(
            "opportunity",
            put_opportunity(
                "PRJ000011",
                json!({"opportunitystep_ID_current": "PRJ000011-O"}),
            ),
        )
        .await;
    let ordered = app
        .call(
            "opportunity",
            put_opportunity(
                "PRJ000011",
                json!({"opportunitystep_ID_current": "PRJ000011-C"}),
            ),
        )
        .await;

    assert_ok(&open);
    assert_eq!(
        open.body["result"]["opportunity"]["generictype_ID_status"], "1",
        "DEAL_STEP-PRJ-O carries no status"
    );
    assert_ok(&ordered);
    assert_eq!(
        ordered.body["result"]["opportunity"]["generictype_ID_status"],
        "2"
    );
    let row = deal(&app, "PRJ000011").await;
    assert_eq!(row["dealstep_ID_current"], "PRJ000011-C");
    assert_eq!(row["generictype_ID_status"], "OPPORTUNITY_STATUS-2");
    app.stop_and_check_no_dead_letter("opportunity").await;
}

// ---------------------------------------------------------------------------------------
// Rules that refuse a request (SPEC 8.4)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dealelement_block_is_a_dead_lettered_forbidden_operation_that_changes_nothing() {
    let app = spawn_with_seed_customer().await;
    let before = deal_snapshot(&app).await;
    let mut request = fixture("opportunity_put.json");
    request["dealelement"] = json!([{"codedealelement": "PRJ000011-E1", "label": "Vitrine"}]);

    let reply = app.call("opportunity", request.clone()).await;

    assert_error(&reply, "FORBIDDEN_OPERATION");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("dealelement") && message.contains("cannot carry deal elements"),
        "{message}"
    );
    assert_eq!(deal_snapshot(&app).await, before);
    assert_eq!(app.count("SELECT count(*) FROM sw_data_deal").await, 0);
    let letter = assert_dead_lettered(&app, "FORBIDDEN_OPERATION").await;
    assert_eq!(letter.body_json(), request);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_that_is_not_a_project_deal_type_is_a_dead_lettered_invalid_foreign_key_naming_the_rule(
) {
    let app = spawn_with_seed_customer().await;
    import(
        &app,
        json!({"generictype": [
            {"codegenerictype": "DEAL_DEALTYPE-AFR", "label": "Affaire", "originalCode": "AFR",
             "dataType": "DEAL_DEALTYPE"},
            {"codegenerictype": "DEAL_DEALTYPE-AFR2", "label": "Affaire 2", "originalCode": "AFR2",
             "dataType": "DEAL_DEALTYPE", "generictype_ID_parent": "DEAL_DEALTYPE-AFR"}]}),
    )
    .await;
    let before = deal_snapshot(&app).await;

    let mut replies = Vec::new();
    for opportunity_type in [json!("AFR"), json!("DEAL_DEALTYPE-AFR2"), Json::Null] {
        let mut request = fixture("opportunity_put.json");
        request["opportunity"]["generictype_ID_opportunityType"] = opportunity_type;
        replies.push(app.call("opportunity", request).await);
    }

    for (reply, stored) in replies.iter().zip([
        json!("DEAL_DEALTYPE-AFR"),
        json!("DEAL_DEALTYPE-AFR2"),
        Json::Null,
    ]) {
        assert_error(reply, "INVALID_FOREIGN_KEY");
        let details = reply.body["error"]["details"].as_array().expect("details");
        assert_eq!(details.len(), 1, "{details:?}");
        assert_eq!(details[0]["field"], "generictype_ID_opportunityType");
        assert_eq!(details[0]["value"], stored);
        let message = details[0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("DEAL_DEALTYPE whose parent is the project type"),
            "{message}"
        );
    }
    assert_eq!(deal_snapshot(&app).await, before);
    let letters = app.dead_letters("opportunity", 3).await;
    assert_eq!(letters.len(), 3, "{letters:?}");
    assert!(letters
        .iter()
        .all(|l| l.header("webhook-error-code") == "INVALID_FOREIGN_KEY"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_to_a_type_outside_the_project_types_is_refused_and_keeps_the_stored_type() {
    let app = spawn_with_seed_opportunity().await;
    import(
        &app,
        json!({"generictype": [{"codegenerictype": "DEAL_DEALTYPE-AFR", "label": "Affaire",
                                "originalCode": "AFR", "dataType": "DEAL_DEALTYPE"}]}),
    )
    .await;
    let before = deal_snapshot(&app).await;

    let reply = app
        .call(
            "opportunity",
            put_opportunity(
                "PRJ000011",
                json!({"generictype_ID_opportunityType": "AFR", "label": "X"}),
            ),
        )
        .await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    assert_eq!(deal_snapshot(&app).await, before);
    assert_eq!(
        deal(&app, "PRJ000011").await["generictype_ID_dealType"],
        "DEAL_DEALTYPE-PRJ"
    );
    assert_dead_lettered(&app, "INVALID_FOREIGN_KEY").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_of_another_datatype_is_an_invalid_foreign_key_of_the_deal_dealtype_datatype() {
    let app = spawn_with_seed_customer().await;
    let mut request = fixture("opportunity_put.json");
    request["opportunity"]["generictype_ID_opportunityType"] = json!("OPPORTUNITY_STATUS-1");

    let reply = app.call("opportunity", request).await;

    assert_error(&reply, "INVALID_FOREIGN_KEY");
    let details = reply.body["error"]["details"].as_array().expect("details");
    assert_eq!(details[0]["field"], "generictype_ID_opportunityType");
    assert_eq!(
        details[0]["references"],
        "sw_data_generictype.codegenerictype (dataType DEAL_DEALTYPE)"
    );
    assert_eq!(app.count("SELECT count(*) FROM sw_data_deal").await, 0);
    assert_dead_lettered(&app, "INVALID_FOREIGN_KEY").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Dynamic fields (SPEC 8.4, 11.9)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_fields_from_either_form_are_stored_and_a_put_changes_only_those_it_sends() {
    let app = spawn_with_seed_opportunity().await;

    let direct = app
        .call(
            "opportunity",
            put_opportunity("PRJ000011", json!({"v_PRJ10": "250000"})),
        )
        .await;
    let pairs = app
        .call(
            "opportunity",
            put_opportunity(
                "PRJ000011",
                json!({"dynamicFields": [{"fieldname": "prj30", "fieldvalue": "Anne Martin"}]}),
            ),
        )
        .await;
    let get = app
        .call(
            "opportunity",
            json!({"verb": "GET", "code": "PRJ000011", "resultType": "extended"}),
        )
        .await;
    let simple = app
        .call("opportunity", json!({"verb": "GET", "code": "PRJ000011"}))
        .await;

    assert_ok(&direct);
    assert_ok(&pairs);
    let row = deal(&app, "PRJ000011").await;
    assert_eq!(
        row["dynamicfields"],
        json!({"prj10": "250000", "prj30": "Anne Martin"}),
        "stored with the catalog's spelling"
    );
    assert_ok(&get);
    let block = &get.body["result"]["opportunity"];
    assert_eq!(block["v_prj10"], "250000");
    assert_eq!(block["v_prj30"], "Anne Martin");
    assert_ok(&simple);
    assert!(simple.body["result"]["opportunity"]
        .get("v_prj10")
        .is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_field_not_declared_for_the_opportunity_is_validation_failed_naming_it() {
    let app = spawn_with_seed_opportunity().await;
    let before = deal_snapshot(&app).await;

    let reply = app
        .call(
            "opportunity",
            put_opportunity(
                "PRJ000011",
                // CLI40 is declared for the customer, not for the opportunity.
                json!({"v_prj99": "1", "dynamicFields": [{"fieldname": "CLI40", "fieldvalue": "7"}]}),
            ),
        )
        .await;

    assert_error(&reply, "VALIDATION_FAILED");
    let mut fields = detail_fields(&reply);
    fields.sort();
    assert_eq!(fields, ["dynamicFields", "v_prj99"]);
    assert_eq!(deal_snapshot(&app).await, before);
    assert_dead_lettered(&app, "VALIDATION_FAILED").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// getPartners (SPEC 11.10)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_list_with_get_partners_list_the_partner_customers_with_their_name_and_role() {
    let app = spawn_with_seed_opportunity().await;
    put_second_customer(&app).await;
    for partner in [
        json!({"codedealpartner": "PRJ000011-P2", "opportunity_ID": "PRJ000011",
               "customer_ID": "C0000001", "role": "Maître d'ouvrage"}),
        json!({"codedealpartner": "PRJ000011-P1", "deal_ID": "PRJ000011",
               "customer_ID": "C0000002", "role": "Architecte"}),
    ] {
        let reply = app
            .call(
                "dealpartner",
                json!({"verb": "PUT", "dealpartner": partner}),
            )
            .await;
        assert_ok(&reply);
    }
    let expected = json!([
        {"codedealpartner": "PRJ000011-P1", "customer_ID": "C0000002",
         "name": "AGENCEMENT PARTENAIRE", "role": "Architecte"},
        {"codedealpartner": "PRJ000011-P2", "customer_ID": "C0000001",
         "name": "ENTREPRISE DIJON GUICHARD", "role": "Maître d'ouvrage"}
    ]);

    let get = app
        .call(
            "opportunity",
            json!({"verb": "GET", "code": "PRJ000011", "settings": {"getPartners": "1"}}),
        )
        .await;
    let without = app
        .call("opportunity", json!({"verb": "GET", "code": "PRJ000011"}))
        .await;
    let list = app
        .call(
            "opportunity",
            json!({"verb": "LIST", "settings": {"getPartners": 1}}),
        )
        .await;

    assert_ok(&get);
    assert_json_in_order(&get.body["result"]["partners"], &expected);
    assert_ok(&without);
    assert!(without.body["result"].get("partners").is_none());
    assert_ok(&list);
    assert_json_in_order(
        &list.body["result"]["opportunity"][0]["partners"],
        &expected,
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// LIST (003's filters and orderBy)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_filter_of_the_seed_selects_exactly_the_matching_opportunities() {
    let app = spawn_with_list_opportunities().await;
    let cases: &[(Json, &[&str])] = &[
        (json!({"codeOpportunity": "LOPP-B"}), &["LOPP-B"]),
        (json!({"opportunityNumber": "N-200"}), &["LOPP-C"]),
        (json!({"label": "VITRINE"}), &["LOPP-A"]),
        (json!({"creationDate": "2022-01-01"}), &["LOPP-A", "LOPP-C"]),
        (
            json!({"creationDate": "2022-03-15 10:00:00"}),
            &["LOPP-A", "LOPP-C"],
        ),
        (
            json!({"creationDateBetween": "2021-01-01|2022-12-31"}),
            &["LOPP-A", "LOPP-B"],
        ),
        (
            json!({"creationDateBetween": "2022-03-15 10:00|2023-01-01"}),
            &["LOPP-A", "LOPP-C"],
        ),
        (json!({"codeCustomer": "C0000002"}), &["LOPP-B", "LOPP-C"]),
        (json!({"opportunityType": "PRJ2"}), &["LOPP-B"]),
        (
            json!({"opportunityType": "DEAL_DEALTYPE-PRJ"}),
            &["LOPP-A", "LOPP-C"],
        ),
        (json!({"codeStatus": "2"}), &["LOPP-A"]),
        (
            json!({"codeStatus": "OPPORTUNITY_STATUS-1"}),
            &["LOPP-B", "LOPP-C"],
        ),
        (json!({"externalReference": "EXT-A"}), &["LOPP-A"]),
        (json!({"externalReference": "EXT"}), &[]),
        (
            json!({"codeCustomer": "C0000002", "codeStatus": "1", "opportunityType": "PRJ"}),
            &["LOPP-C"],
        ),
    ];

    for (filters, expected) in cases {
        let reply = app
            .call("opportunity", json!({"verb": "LIST", "filters": filters}))
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
async fn list_orders_by_code_by_default_and_by_each_order_by_of_the_seed() {
    let app = spawn_with_list_opportunities().await;
    let cases: &[(Option<&str>, [&str; 3])] = &[
        (None, ["LOPP-A", "LOPP-B", "LOPP-C"]),
        (Some("opportunityNumberAsc"), ["LOPP-B", "LOPP-C", "LOPP-A"]),
        (Some("labelAsc"), ["LOPP-B", "LOPP-C", "LOPP-A"]),
        (Some("creationDateAsc"), ["LOPP-B", "LOPP-A", "LOPP-C"]),
        (Some("creationDateDesc"), ["LOPP-C", "LOPP-A", "LOPP-B"]),
    ];

    for (order_by, expected) in cases {
        let mut request = json!({"verb": "LIST", "resultType": "simple"});
        if let Some(order_by) = order_by {
            request["orderBy"] = json!(order_by);
        }
        let reply = app.call("opportunity", request).await;

        assert_ok(&reply);
        assert_eq!(list_codes(&reply), expected, "orderBy {order_by:?}");
        assert_eq!(
            keys(&reply.body["result"]["opportunity"][0]),
            keys(&fixture("opportunity_get_simple.json")["opportunity"]),
            "each item is shaped as GET simple"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_an_unknown_filter_an_unknown_order_or_a_between_without_one_bar_is_an_invalid_request(
) {
    let app = spawn_with_seed_customer().await;
    let requests = [
        json!({"verb": "LIST", "filters": {"codeDeal": "PRJ000011"}}),
        json!({"verb": "LIST", "orderBy": "labelDesc"}),
        json!({"verb": "LIST", "filters": {"creationDateBetween": "2021-01-01"}}),
        json!({"verb": "LIST", "filters": {"creationDateBetween": "2021-01-01|2022-01-01|2023-01-01"}}),
        json!({"verb": "LIST", "filters": {"creationDate": "yesterday"}}),
    ];

    for request in &requests {
        let reply = app.call("opportunity", request.clone()).await;
        assert_error(&reply, "INVALID_REQUEST");
    }
    let letters = app.dead_letters("opportunity", requests.len()).await;
    assert_eq!(letters.len(), requests.len(), "{letters:?}");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// DELETE
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascades_to_the_steps_the_address_links_and_the_partners_and_counts_them() {
    let app = spawn_with_seed_opportunity().await;
    assert_ok(
        &app.call("opportunity", fixture("opportunity_put_current_step.json"))
            .await,
    );
    assert_ok(
        &app.call(
            "dealpartner",
            json!({"verb": "PUT", "dealpartner": {"codedealpartner": "PRJ000011-P1",
                   "deal_ID": "PRJ000011", "customer_ID": "C0000001", "role": "Client"}}),
        )
        .await,
    );

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "DELETE", "code": "PRJ000011"}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(reply.body["code"], "PRJ000011");
    assert_eq!(
        reply.body["deleted"],
        json!({"opportunity": 1, "opportunitystep": 2, "customeraddressopportunity": 1,
               "dealpartner": 1})
    );
    for table in [
        "sw_data_deal",
        "sw_data_dealstep",
        "sw_data_customeraddressdeal",
        "sw_data_dealpartner",
    ] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(app.count(&sql).await, 0, "{table}");
    }
    assert!(
        app.row("sw_data_customer", "codecustomer", "C0000001")
            .await
            .is_some(),
        "the customer stays"
    );
    app.stop_and_check_no_dead_letter("opportunity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_an_unknown_opportunity_is_not_found_and_not_dead_lettered() {
    let app = spawn_with_seed_customer().await;

    let reply = app
        .call(
            "opportunity",
            json!({"verb": "DELETE", "code": "PRJ999999"}),
        )
        .await;

    assert_error(&reply, "NOT_FOUND");
    app.stop_and_check_no_dead_letter("opportunity").await;
}

// ---------------------------------------------------------------------------------------
// The customer's live count (SPEC 8.1: "active opportunities")
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_indicators_count_only_its_active_opportunities() {
    let app = spawn_with_seed_opportunity().await;
    assert_ok(
        &app.call(
            "opportunity",
            put_opportunity("PRJ000012", json!({"generictype_ID_status": "2"})),
        )
        .await,
    );

    let reply = app
        .call(
            "customer",
            json!({"verb": "GET", "code": "C0000001", "settings": {"getIndicators": "1"}}),
        )
        .await;

    assert_ok(&reply);
    assert_eq!(
        reply.body["result"]["indicators"][0]["openedOpportunity"],
        "1"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A worker serving [`ENTITIES`], with the demo data, 004's customer `C0000001` and the rows
/// of 003's examples that belong to it (contact `C0000001-DJ`, address `C0000001-SXB`):
/// `tests/fixtures/README.md` says why they are not in the demo data.
async fn spawn_with_seed_customer() -> TestWorker {
    let app = spawn_worker_with(test_settings(ENTITIES)).await;
    app.put_seed_customer().await;
    import(&app, fixture("opportunity_customer_rows.json")).await;
    app
}

/// The same, with 003's PUT example applied.
async fn spawn_with_seed_opportunity() -> TestWorker {
    let app = spawn_with_seed_customer().await;
    assert_ok(
        &app.call("opportunity", fixture("opportunity_put.json"))
            .await,
    );
    app
}

/// Three opportunities that 003's filters and sort orders tell apart. Codes in code order
/// are in none of the sort orders.
async fn spawn_with_list_opportunities() -> TestWorker {
    let app = spawn_with_seed_customer().await;
    put_second_customer(&app).await;
    import(
        &app,
        json!({"generictype": [{"codegenerictype": "DEAL_DEALTYPE-PRJ2", "label": "Type projet 2",
            "originalCode": "PRJ2", "dataType": "DEAL_DEALTYPE",
            "generictype_ID_parent": "DEAL_DEALTYPE-PROJECT"}]}),
    )
    .await;
    let opportunities = [
        (
            "LOPP-A",
            json!({"label": "Rénovation vitrine", "creationDate": "2022-03-15 10:00",
                   "opportunityNumber": "N-300", "customer_ID": "C0000001",
                   "generictype_ID_status": "OPPORTUNITY_STATUS-2",
                   "externalReference": "EXT-A"}),
        ),
        (
            "LOPP-B",
            json!({"label": "Agencement boutique", "creationDate": "2021-06-01",
                   "opportunityNumber": "N-100", "customer_ID": "C0000002",
                   "generictype_ID_opportunityType": "PRJ2", "externalReference": "EXT-B"}),
        ),
        (
            "LOPP-C",
            json!({"label": "Mobilier", "creationDate": "2023-01-01",
                   "opportunityNumber": "N-200", "customer_ID": "C0000002"}),
        ),
    ];
    for (code, fields) in opportunities {
        assert_ok(&app.call("opportunity", put_opportunity(code, fields)).await);
    }
    app
}

/// A second customer, `C0000002`, for partners and the `codeCustomer` filter.
async fn put_second_customer(app: &TestWorker) {
    let reply = app
        .call(
            "customer",
            json!({"verb": "PUT", "customer": {"codecustomer": "C0000002",
                   "name": "AGENCEMENT PARTENAIRE", "city": "DIJON"}}),
        )
        .await;
    assert_ok(&reply);
}

/// An opportunity PUT of type `PRJ` (a project type) unless `fields` says otherwise.
fn put_opportunity(code: &str, fields: Json) -> Json {
    let mut block = Map::new();
    block.insert("codeopportunity".into(), json!(code));
    block.insert("generictype_ID_opportunityType".into(), json!("PRJ"));
    block.extend(fields.as_object().cloned().unwrap_or_default());
    json!({"verb": "PUT", "opportunity": block})
}

/// The `sw_data_deal` row of `code`, as JSON.
async fn deal(app: &TestWorker, code: &str) -> Json {
    app.row("sw_data_deal", "codedeal", code)
        .await
        .unwrap_or_else(|| panic!("opportunity {code}"))
}

/// The rows of a child table of the opportunity `code`, by code.
async fn rows_of(app: &TestWorker, table: &str, code: &str) -> Vec<Json> {
    let sql = format!(r#"SELECT to_jsonb(t)::text FROM {table} t WHERE "deal_ID" = $1 ORDER BY 1"#);
    let rows: Vec<String> = sqlx::query_scalar(&sql)
        .bind(code)
        .fetch_all(&app.pool)
        .await
        .expect("child rows");
    rows.iter()
        .map(|r| serde_json::from_str(r).expect("jsonb"))
        .collect()
}

/// A fingerprint of the deal family's tables and of the customer's (`app.snapshot()`), to
/// show that a refused request changed nothing.
async fn deal_snapshot(app: &TestWorker) -> String {
    let mut all = app.snapshot().await;
    for table in [
        "sw_data_deal",
        "sw_data_dealstep",
        "sw_data_customeraddressdeal",
        "sw_data_dealpartner",
        "sw_data_dealelement",
    ] {
        let sql = format!(
            "SELECT coalesce(string_agg(to_jsonb(t)::text, '|' ORDER BY to_jsonb(t)::text), '') FROM {table} t"
        );
        let text: String = sqlx::query_scalar(&sql)
            .fetch_one(&app.pool)
            .await
            .expect("snapshot");
        all.push_str(&text);
        all.push('\n');
    }
    all
}

/// A code generated for a child row (SPEC 8.4): `<opportunity code>-<unique suffix>`.
#[track_caller]
fn assert_generated_code(code: &Json, opportunity: &str) {
    let code = code.as_str().unwrap_or_default();
    let prefix = format!("{opportunity}-");
    assert!(
        code.len() > prefix.len() && code.starts_with(&prefix),
        "{code:?} is generated from {opportunity}"
    );
}

fn now_to_the_second() -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let now = chrono::Local::now().naive_local();
    now.with_nanosecond(0).unwrap_or(now)
}

/// The codes of a LIST reply's items, in order.
fn list_codes(reply: &Reply) -> Vec<String> {
    reply.body["result"]["opportunity"]
        .as_array()
        .unwrap_or_else(|| panic!("a LIST result: {}", reply.body))
        .iter()
        .map(|item| {
            item["codeopportunity"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The one dead letter of the opportunity queue, with its error code header and the
/// reply's details.
async fn assert_dead_lettered(app: &TestWorker, code: &str) -> DeadLetter {
    let mut letters = app.dead_letters("opportunity", 1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = letters.remove(0);
    assert_eq!(letter.header("webhook-error-code"), code);
    letter
}
