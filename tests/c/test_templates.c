/*
 * Launch templates from C: save two versions, read, list, history, rollback, check, start a
 * session from one through as_manager_start with an override, remove; bad input (NULL
 * pointers, a bad name, a value in env, an unknown template or version) is refused with the
 * output untouched and nothing saved.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

/* A value out-parameters are preset to, to check they are not written on failure. */
static char g_marker_storage;
#define MARKER_NONE ((char *)&g_marker_storage)

int main(void) {
    char home[512];
    as_manager *mgr = NULL;
    as_session *s = NULL;
    char *json = NULL;

    make_home(home, sizeof home);
    OK(as_manager_open(home, &mgr));

    OK(as_manager_template_save(mgr, "c-tpl",
                                "{\"agent\":\"custom\",\"args\":[\"cat\"],\"name\":\"from-c\","
                                "\"task_prefix\":\"C-\"}",
                                false, &json));
    CHECK(json != NULL && strstr(json, "\"version\":1") != NULL &&
              strstr(json, "\"current\":true") != NULL,
          "the first save is version 1, current");
    as_string_free(json);
    json = NULL;
    OK(as_manager_template_save(mgr, "c-tpl",
                                "{\"agent\":\"custom\",\"args\":[\"cat\"],\"cols\":90}", false,
                                &json));
    CHECK(json != NULL && strstr(json, "\"version\":2") != NULL, "the second save is version 2");
    as_string_free(json);
    json = NULL;

    OK(as_manager_template_history(mgr, "c-tpl", &json));
    CHECK(json != NULL && strstr(json, "\"version\":1") != NULL &&
              strstr(json, "\"version\":2") != NULL,
          "history has both versions");
    as_string_free(json);
    json = NULL;
    OK(as_manager_template_rollback(mgr, "c-tpl", 1, &json));
    CHECK(json != NULL && strstr(json, "\"version\":1") != NULL &&
              strstr(json, "\"current\":true") != NULL,
          "rollback makes version 1 current");
    as_string_free(json);
    json = NULL;
    OK(as_manager_templates(mgr, &json));
    CHECK(json != NULL && json[0] == '[' && strstr(json, "\"name\":\"c-tpl\"") != NULL &&
              strstr(json, "\"version\":1") != NULL,
          "the list shows the current version");
    as_string_free(json);
    json = NULL;
    OK(as_manager_template_get(mgr, "c-tpl@2", &json));
    CHECK(json != NULL && strstr(json, "\"cols\":90") != NULL, "a version by NAME@VERSION");
    as_string_free(json);
    json = NULL;
    OK(as_manager_template_check(mgr, "c-tpl", &json));
    CHECK(json != NULL && strstr(json, "\"ok\":true") != NULL, "the template checks out");
    as_string_free(json);
    json = NULL;

    /* A start from the template, the task given here prefixed by the template's. */
    OK(as_manager_start(mgr, "{\"template\":\"c-tpl\",\"task_id\":\"5\",\"rows\":30}", &s));
    OK(as_session_record(s, &json));
    CHECK(json != NULL && strstr(json, "\"name\":\"from-c\"") != NULL &&
              strstr(json, "\"task_id\":\"C-5\"") != NULL && strstr(json, "\"rows\":30") != NULL,
          "the session has the template's name, the prefixed task and the override");
    as_string_free(json);
    json = NULL;
    OK(as_session_stop(s, 5.0, true, NULL));
    as_session_free(s);
    s = NULL;

    /* Refusals: nothing written, nothing saved. */
    json = MARKER_NONE;
    EXPECT(AS_NULL_ARGUMENT, as_manager_template_save(NULL, "x", "{}", false, &json), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_template_save(mgr, NULL, "{}", false, &json), "name");
    EXPECT(AS_NULL_ARGUMENT, as_manager_template_save(mgr, "x", NULL, false, &json),
           "template_json");
    EXPECT(AS_NULL_ARGUMENT,
           as_manager_template_save(mgr, "x", "{\"agent\":\"custom\"}", false, NULL),
           "out_version_json");
    EXPECT(AS_INVALID_JSON, as_manager_template_save(mgr, "x", "{\"agent\":", false, &json),
           "template_json");
    EXPECT(AS_INVALID_ARGUMENT,
           as_manager_template_save(mgr, "../x", "{\"agent\":\"custom\",\"args\":[\"cat\"]}",
                                    false, &json),
           "template name");
    EXPECT(AS_INVALID_ARGUMENT,
           as_manager_template_save(mgr, "x", "{\"agent\":\"custom\",\"env\":[\"K=V\"]}", false,
                                    &json),
           "names only");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_template_get(mgr, "nosuch", &json), "no template");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_template_get(mgr, "c-tpl@7", &json), "no version 7");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_template_rollback(mgr, "c-tpl", 7, &json),
           "no version 7");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_template_remove(mgr, "nosuch"), "no template");
    EXPECT(AS_NULL_ARGUMENT, as_manager_templates(mgr, NULL), "out_json");
    CHECK(json == MARKER_NONE, "outputs untouched by failures");
    json = NULL;
    OK(as_manager_templates(mgr, &json));
    CHECK(json != NULL && strstr(json, "\"name\":\"x\"") == NULL, "no refused template saved");
    as_string_free(json);
    json = NULL;

    OK(as_manager_template_remove(mgr, "c-tpl"));
    OK(as_manager_templates(mgr, &json));
    CHECK(json != NULL && strcmp(json, "[]") == 0, "removed");
    as_string_free(json);

    as_manager_free(mgr);
    return finish("test_templates");
}
