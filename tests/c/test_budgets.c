/*
 * Cost budgets from C: a start with a budget in its options, a session's budget set, shown
 * and removed, a task's budget set before its first session; bad input (NULL pointers,
 * malformed JSON, NaN-like and negative limits, an unknown action, an unknown task) is
 * refused with the output untouched and nothing changed. Enforcement itself is the host's,
 * tested with real agents in crates/cli/tests/budgets.rs.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

static char g_marker_storage;
#define MARKER_NONE ((char *)&g_marker_storage)

int main(void) {
    char home[512];
    as_manager *mgr = NULL;
    as_session *s = NULL;
    char *json = NULL;
    char *id = NULL;

    make_home(home, sizeof home);
    OK(as_manager_open(home, &mgr));

    OK(as_manager_start(mgr,
                        "{\"agent\":\"custom\",\"args\":[\"cat\"],\"task_id\":\"T-C\","
                        "\"budget\":{\"usd\":2.5,\"on_budget\":\"warn\"}}",
                        &s));
    OK(as_session_record(s, &json));
    CHECK(json != NULL && strstr(json, "\"budget\":{\"usd\":2.5,\"on_budget\":\"warn\"}") != NULL,
          "the record keeps the start's budget");
    as_string_free(json);
    json = NULL;
    OK(as_session_id(s, &id));

    OK(as_manager_budget(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"scope\":\"session\"") != NULL &&
              strstr(json, "\"level\":\"under\"") != NULL,
          "the session's budget, nothing spent");
    as_string_free(json);
    json = NULL;
    OK(as_manager_set_budget(mgr, id, "{\"tokens\":1000}", &json));
    CHECK(json != NULL && strstr(json, "\"tokens\":1000") != NULL &&
              strstr(json, "\"on_budget\":\"stop\"") != NULL,
          "a new budget, stop by default");
    as_string_free(json);
    json = NULL;
    OK(as_manager_set_budget(mgr, id, NULL, &json));
    CHECK(json != NULL && strstr(json, "\"budget\":null") != NULL, "NULL removes it");
    as_string_free(json);
    json = NULL;

    OK(as_manager_set_task_budget(mgr, "T-LATER", "{\"usd\":10}", &json));
    CHECK(json != NULL && strstr(json, "\"scope\":\"task\"") != NULL &&
              strstr(json, "\"id\":\"T-LATER\"") != NULL,
          "a task budget before the task's first session");
    as_string_free(json);
    json = NULL;
    OK(as_manager_task_budget(mgr, "T-C", &json));
    CHECK(json != NULL && strstr(json, "\"budget\":null") != NULL,
          "a task with sessions and no budget");
    as_string_free(json);
    json = NULL;

    json = MARKER_NONE;
    EXPECT(AS_NULL_ARGUMENT, as_manager_budget(NULL, id, &json), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_budget(mgr, NULL, &json), "session_id");
    EXPECT(AS_NULL_ARGUMENT, as_manager_budget(mgr, id, NULL), "out_json");
    EXPECT(AS_INVALID_SESSION_ID, as_manager_budget(mgr, "../x", &json), "invalid session id");
    EXPECT(AS_SESSION_NOT_FOUND, as_manager_budget(mgr, "nosuch", &json), "nosuch");
    EXPECT(AS_INVALID_JSON, as_manager_set_budget(mgr, id, "{\"usd\":", &json), "budget_json");
    EXPECT(AS_INVALID_JSON, as_manager_set_budget(mgr, id, "{\"usd\":1,\"oops\":1}", &json),
           "oops");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_set_budget(mgr, id, "{\"usd\":-1}", &json),
           "dollar budget");
    EXPECT(AS_INVALID_JSON, as_manager_set_budget(mgr, id, "{\"usd\":1e400}", &json), NULL);
    EXPECT(AS_INVALID_ARGUMENT, as_manager_set_budget(mgr, id, "{\"usd\":2e9}", &json),
           "at most");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_set_budget(mgr, id, "{\"tokens\":0}", &json),
           "token budget");
    EXPECT(AS_INVALID_JSON,
           as_manager_set_budget(mgr, id, "{\"usd\":1,\"on_budget\":\"explode\"}", &json),
           "explode");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_set_budget(mgr, id, "{}", &json), "a dollar or");
    EXPECT(AS_TASK_NOT_FOUND, as_manager_task_budget(mgr, "T-NONE", &json), "T-NONE");
    EXPECT(AS_TASK_NOT_FOUND, as_manager_set_task_budget(mgr, "T-NONE", NULL, &json), "T-NONE");
    EXPECT(AS_NULL_ARGUMENT, as_manager_set_task_budget(mgr, NULL, "{\"usd\":1}", &json),
           "task_id");
    CHECK(json == MARKER_NONE, "outputs untouched by failures");
    json = NULL;
    OK(as_manager_budget(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"budget\":null") != NULL, "no refused budget stored");
    as_string_free(json);

    OK(as_session_stop(s, 5.0, true, NULL));
    as_session_free(s);
    as_string_free(id);
    as_manager_free(mgr);
    return finish("test_budgets");
}
