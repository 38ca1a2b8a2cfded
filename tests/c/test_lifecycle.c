/*
 * Lifecycle records from C: create, update (phase, metadata, error), resume checks, get,
 * finalize, list, save (back-dated) and cleanup; then 8 threads x 50 updates on one record,
 * none lost.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <pthread.h>

static int count(const char *hay, const char *needle) {
    int n = 0;
    const char *p = hay;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

struct updater {
    const as_manager *mgr;
    const char *id;
    int ok;
};

static void *update_many(void *arg) {
    struct updater *u = (struct updater *)arg;
    int i;
    u->ok = 1;
    for (i = 0; i < 50; i++) {
        bool updated = false;
        const char *phase = (i % 2) ? "planning" : "investigating";
        if (as_lifecycle_update(u->mgr, u->id, phase, NULL, NULL, &updated) != AS_OK || !updated)
            u->ok = 0;
    }
    return NULL;
}

int main(void) {
    char home[512];
    as_manager *mgr = NULL;
    char *id = NULL;
    char *other = NULL;
    char *json = NULL;
    bool flag = false;
    size_t removed = 0;

    make_home(home, sizeof home);
    OK(as_manager_open(home, &mgr));

    OK(as_lifecycle_create(mgr,
                           "{\"agent_name\":\"planner\",\"purpose\":\"write tests\","
                           "\"metadata\":{\"k\":\"v\"}}",
                           &id));
    CHECK(id != NULL && strncmp(id, "agent-", 6) == 0 && strlen(id) == 30,
          "id shaped agent-YYYYMMDD-HHMMSS-xxxxxxxx");
    OK(as_lifecycle_get(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"phase\":\"initializing\"") != NULL, "initial phase");
    CHECK(json != NULL && strstr(json, "\"agent_name\":\"planner\"") != NULL, "agent_name");
    CHECK(json != NULL && strncmp(json, "{\"agent_id\":", 12) == 0, "schema key order");
    as_string_free(json);
    json = NULL;

    OK(as_lifecycle_update(mgr, id, "planning", "{\"x\":1}", NULL, &flag));
    CHECK(flag, "update finds the record");
    OK(as_lifecycle_get(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"phase\":\"planning\"") != NULL, "phase updated");
    CHECK(json != NULL && strstr(json, "\"resume_ready\":true") != NULL, "resume_ready set");
    CHECK(json != NULL && strstr(json, "\"k\":\"v\"") && strstr(json, "\"x\":1"),
          "metadata merged");
    CHECK(json != NULL && strstr(json, "\"from_phase\":\"initializing\"") != NULL &&
              strstr(json, "\"to_phase\":\"planning\"") != NULL,
          "history entry");
    as_string_free(json);
    json = NULL;

    OK(as_lifecycle_should_resume(mgr, id, NULL, &flag));
    CHECK(flag, "a fresh planning record resumes");
    OK(as_lifecycle_should_resume(mgr, id, "{\"resumable_phases\":[\"approval\"]}", &flag));
    CHECK(!flag, "policy: phase not resumable");
    OK(as_lifecycle_should_resume(mgr, id, "{\"max_idle_secs\":0}", &flag));
    CHECK(!flag, "policy: too idle");

    EXPECT(AS_INVALID_PHASE, as_lifecycle_update(mgr, id, "sleeping", NULL, NULL, &flag),
           "sleeping");
    OK(as_lifecycle_update(mgr, id, NULL, NULL, "boom 1", &flag));
    OK(as_lifecycle_update(mgr, id, NULL, NULL, "boom 2", &flag));
    OK(as_lifecycle_update(mgr, id, NULL, NULL, "boom 3", &flag));
    OK(as_lifecycle_get(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"error_count\":3") != NULL, "errors counted");
    CHECK(json != NULL && strstr(json, "\"message\":\"boom 3\"") != NULL, "last_error");
    CHECK(json != NULL && strstr(json, "\"phase\":\"planning\"") != NULL,
          "an invalid phase changed nothing");
    as_string_free(json);
    json = NULL;
    OK(as_lifecycle_should_resume(mgr, id, NULL, &flag));
    CHECK(!flag, "3 errors stop resumption");

    OK(as_lifecycle_list(mgr, true, NULL, &json));
    CHECK(json != NULL && strstr(json, id) != NULL, "listed as active");
    as_string_free(json);
    json = NULL;
    OK(as_lifecycle_list(mgr, false, "nobody", &json));
    CHECK(json != NULL && strcmp(json, "[]") == 0, "filter by agent name");
    as_string_free(json);
    json = NULL;

    OK(as_lifecycle_finalize(mgr, id, "completed", "all done", &flag));
    CHECK(flag, "finalize finds the record");
    OK(as_lifecycle_get(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"phase\":\"completed\"") != NULL, "completed");
    CHECK(json != NULL && strstr(json, "\"summary\":\"all done\"") != NULL, "summary");
    CHECK(json != NULL && strstr(json, "\"finalized_at\":null") == NULL, "finalized_at");
    as_string_free(json);
    json = NULL;
    OK(as_lifecycle_list(mgr, true, NULL, &json));
    CHECK(json != NULL && strstr(json, id) == NULL, "a finished record is not active");
    as_string_free(json);
    json = NULL;

    /* The record is a session too, in state stopped. */
    OK(as_manager_get(mgr, id, &json));
    CHECK(json != NULL && strstr(json, "\"kind\":\"record\"") != NULL &&
              strstr(json, "\"state\":\"stopped\"") != NULL,
          "a completed record reads stopped");
    as_string_free(json);
    json = NULL;

    OK(as_lifecycle_create(mgr, NULL, &other));
    OK(as_lifecycle_finalize(mgr, other, "weird", NULL, &flag));
    OK(as_lifecycle_get(mgr, other, &json));
    CHECK(json != NULL && strstr(json, "\"phase\":\"failed\"") != NULL,
          "an unknown outcome records failed");
    as_string_free(json);
    json = NULL;

    /* Save back-dated, then clean up. */
    OK(as_lifecycle_save(mgr, other,
                         "{\"agent_id\":\"x\",\"agent_name\":\"old\",\"phase\":\"planning\","
                         "\"created_at\":\"2020-01-01T00:00:00+00:00\","
                         "\"last_updated\":\"2020-01-01T00:00:00+00:00\",\"history\":[]}"));
    OK(as_lifecycle_get(mgr, other, &json));
    CHECK(json != NULL && strstr(json, "\"last_updated\":\"2020-01-01T00:00:00+00:00\"") != NULL,
          "saved exactly as given");
    as_string_free(json);
    json = NULL;
    OK(as_lifecycle_cleanup(mgr, 24.0, &removed));
    CHECK(removed == 1, "cleanup removes the back-dated record only");
    OK(as_lifecycle_get(mgr, other, &json));
    CHECK(json == NULL, "the cleaned record is gone");

    /* Concurrent updates from 8 threads: 400 history entries, none lost. */
    {
        char *busy = NULL;
        pthread_t t[8];
        struct updater u[8];
        int i, all = 1;
        OK(as_lifecycle_create(mgr, "{\"agent_name\":\"busy\"}", &busy));
        for (i = 0; i < 8; i++) {
            u[i].mgr = mgr;
            u[i].id = busy;
            pthread_create(&t[i], NULL, update_many, &u[i]);
        }
        for (i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
            all = all && u[i].ok;
        }
        CHECK(all, "every concurrent update succeeded");
        OK(as_lifecycle_get(mgr, busy, &json));
        CHECK(json != NULL && count(json, "\"to_phase\"") == 400, "400 history entries");
        as_string_free(json);
        json = NULL;
        as_string_free(busy);
    }

    as_string_free(other);
    as_string_free(id);
    as_manager_free(mgr);
    return finish("test_lifecycle");
}
