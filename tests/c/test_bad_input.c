/*
 * Bad input: NULL for every pointer argument of every function, invalid UTF-8, unknown and
 * malformed ids, malformed JSON, nonsense values, and calls on freed handles. Each returns
 * its documented code, sets a message that names the problem, never crashes, and leaves its
 * out-parameters untouched. Needs no session process: a record-only (lifecycle) session
 * serves as the session handle, and the one start that would run an agent is refused first.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

/* Calls as_session_state until the handle reads as freed; every result must be AS_OK (or a
 * state error) before the free and AS_USE_AFTER_FREE after it, never a crash. */
struct racer {
    const as_session *s;
    int calls;
    int bad;
    int saw_freed;
    int last_bad_rc; /* what an unexpected result was, for the failure message */
};

static void *race_free(void *arg) {
    struct racer *r = (struct racer *)arg;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        as_state st;
        as_result rc = as_session_state(r->s, &st);
        __atomic_add_fetch(&r->calls, 1, __ATOMIC_SEQ_CST);
        if (rc == AS_USE_AFTER_FREE) {
            r->saw_freed = 1;
            return NULL;
        }
        if (rc != AS_OK) {
            r->bad++;
            r->last_bad_rc = (int)rc;
        }
        /* Let the freeing thread in: the registry's mutex is not fair, and under valgrind
           (one thread at a time) four busy racers could starve it for minutes. */
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60) { /* the free never came: a failure, not a hang */
            r->bad++;
            r->last_bad_rc = -1;
            return NULL;
        }
    }
}

static int never_called(void *user_data, const uint8_t *bytes, size_t len, uint64_t offset) {
    (void)user_data;
    (void)bytes;
    (void)len;
    (void)offset;
    return 1;
}

/* A value out-parameters are preset to, to check they are not written on failure. */
static char g_marker_storage;
#define MARKER ((char *)&g_marker_storage)

static const char BAD_UTF8[] = "agent-\xff\xfe";
static const char UNKNOWN_ID[] = "agent-20200101-000000-deadbeef";

int main(void) {
    char home[512];
    as_manager *mgr = NULL;
    as_session *s = NULL;
    char *out = MARKER;
    char *id = NULL;
    as_state st = AS_STATE_UNKNOWN;
    bool flag = true;
    size_t n = 12345;
    uint8_t *bytes = (uint8_t *)MARKER;
    size_t len = 777;
    uint64_t next = 999;
    int64_t next_seq = 888;
    static char long_id[10001];
    const char *one_key[] = {"Enter"};
    const char *null_key[] = {NULL};
    const char *bad_key[] = {BAD_UTF8};

    memset(long_id, 'a', 10000);
    long_id[10000] = '\0';
    make_home(home, sizeof home);

    /* ---- Manager ---------------------------------------------------------------------- */
    EXPECT(AS_NULL_ARGUMENT, as_manager_open(home, NULL), "out_manager");
    OK(as_manager_open(home, &mgr));
    as_manager_free(NULL);

    EXPECT(AS_NULL_ARGUMENT, as_manager_set_host_binary(NULL, "/bin/sh"), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_set_host_binary(mgr, NULL), "path");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_set_host_binary(mgr, "/nonexistent/agent-sessions"),
           "not a file");
    EXPECT(AS_NULL_ARGUMENT, as_manager_home(NULL, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_home(mgr, NULL), "out_path");

    EXPECT(AS_NULL_ARGUMENT, as_manager_start(NULL, "{\"agent\":\"custom\"}", &s), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_start(mgr, NULL, &s), "options_json");
    EXPECT(AS_NULL_ARGUMENT,
           as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"]}", NULL),
           "out_session");
    EXPECT(AS_INVALID_UTF8, as_manager_start(mgr, BAD_UTF8, &s), "options_json");
    /* Malformed JSON and wrong shapes. */
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "", &s), "options_json");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{", &s), "EOF");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "[]", &s), "options_json");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{\"args\":[\"cat\"]}", &s), "agent");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{\"agent\":5}", &s), "options_json");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{\"agent\":\"custom\",\"bogus\":1}", &s),
           "bogus");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{\"agent\":\"custom\",\"cols\":-1}", &s),
           "options_json");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{\"agent\":\"custom\",\"env\":{\"A\":1}}", &s),
           "env");
    EXPECT(AS_INVALID_JSON, as_manager_start(mgr, "{\"agent\":\"custom\",\"env\":[\"A\"]}", &s),
           "NAME=value");
    /* Well-formed but refused. */
    EXPECT(AS_UNSUPPORTED_AGENT, as_manager_start(mgr, "{\"agent\":\"nope\"}", &s), "custom");
    EXPECT(AS_INVALID_ARGUMENT,
           as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"],\"cols\":0}", &s),
           "cols");
    EXPECT(AS_INVALID_ARGUMENT,
           as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"],\"idle_after_secs\":-1}",
                            &s),
           "idle_after_secs");
    /* Seconds beyond the range every interface shares (0 to 1e9) name the range. */
    EXPECT(AS_INVALID_ARGUMENT,
           as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"],\"idle_after_secs\":1e20}",
                            &s),
           "from 0 to 1000000000");
    EXPECT(AS_IO,
           as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"],\"cwd\":\"/nonexistent\"}",
                            &s),
           "/nonexistent");
    CHECK(s == NULL, "no session handle written by failed starts");
    OK(as_manager_list(mgr, NULL, &out));
    CHECK(out != NULL && strcmp(out, "[]") == 0, "no session was created by refused starts");
    as_string_free(out);
    out = MARKER;

    EXPECT(AS_NULL_ARGUMENT, as_manager_open_session(NULL, UNKNOWN_ID, &s), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_open_session(mgr, NULL, &s), "session_id");
    EXPECT(AS_NULL_ARGUMENT, as_manager_open_session(mgr, UNKNOWN_ID, NULL), "out_session");
    EXPECT(AS_INVALID_UTF8, as_manager_open_session(mgr, BAD_UTF8, &s), "session_id");
    EXPECT(AS_SESSION_NOT_FOUND, as_manager_open_session(mgr, UNKNOWN_ID, &s), UNKNOWN_ID);
    EXPECT(AS_INVALID_SESSION_ID, as_manager_open_session(mgr, "../x", &s), "../x");
    EXPECT(AS_INVALID_SESSION_ID, as_manager_open_session(mgr, "", &s), "empty");
    EXPECT(AS_INVALID_SESSION_ID, as_manager_open_session(mgr, long_id, &s), "longer");
    CHECK(s == NULL, "no session handle written");

    EXPECT(AS_NULL_ARGUMENT, as_manager_get(NULL, UNKNOWN_ID, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_get(mgr, NULL, &out), "session_id");
    EXPECT(AS_NULL_ARGUMENT, as_manager_get(mgr, UNKNOWN_ID, NULL), "out_record_json");
    EXPECT(AS_INVALID_UTF8, as_manager_get(mgr, BAD_UTF8, &out), "session_id");
    EXPECT(AS_SESSION_NOT_FOUND, as_manager_get(mgr, UNKNOWN_ID, &out), "agent-sessions ls");
    EXPECT(AS_INVALID_SESSION_ID, as_manager_get(mgr, "../x", &out), "../x");
    EXPECT(AS_INVALID_SESSION_ID, as_manager_get(mgr, long_id, &out), "128");

    EXPECT(AS_NULL_ARGUMENT, as_manager_list(NULL, NULL, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_list(mgr, NULL, NULL), "out_records_json");
    EXPECT(AS_INVALID_UTF8, as_manager_list(mgr, BAD_UTF8, &out), "filter_json");
    EXPECT(AS_INVALID_JSON, as_manager_list(mgr, "{\"state\":5}", &out), "filter_json");
    EXPECT(AS_INVALID_JSON, as_manager_list(mgr, "{\"colour\":\"red\"}", &out), "colour");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_list(mgr, "{\"state\":\"sleepy\"}", &out), "sleepy");
    /* A task id no session carries is an error, not an empty list: a typo is noticed. */
    EXPECT(AS_TASK_NOT_FOUND, as_manager_list(mgr, "{\"task_id\":\"no-such-task\"}", &out),
           "no-such-task");

    EXPECT(AS_NULL_ARGUMENT, as_manager_remove(NULL, UNKNOWN_ID), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_remove(mgr, NULL), "session_id");
    EXPECT(AS_INVALID_UTF8, as_manager_remove(mgr, BAD_UTF8), "session_id");
    EXPECT(AS_SESSION_NOT_FOUND, as_manager_remove(mgr, UNKNOWN_ID), UNKNOWN_ID);
    EXPECT(AS_INVALID_SESSION_ID, as_manager_remove(mgr, "../x"), "../x");

    EXPECT(AS_NULL_ARGUMENT, as_agents(NULL), "out_json");
    CHECK(out == MARKER, "out-parameters untouched by failures");

    /* ---- Lifecycle -------------------------------------------------------------------- */
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_create(NULL, NULL, &id), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_create(mgr, NULL, NULL), "out_agent_id");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_create(mgr, BAD_UTF8, &id), "options_json");
    EXPECT(AS_INVALID_JSON, as_lifecycle_create(mgr, "{\"metadata\":[1]}", &id), "options_json");
    EXPECT(AS_INVALID_JSON, as_lifecycle_create(mgr, "nope", &id), "options_json");
    EXPECT(AS_INVALID_SESSION_ID, as_lifecycle_create(mgr, "{\"agent_id\":\"../x\"}", &id),
           "../x");
    CHECK(id == NULL, "no id written by failed creates");
    OK(as_lifecycle_create(mgr, "{\"agent_name\":\"bad-input\"}", &id));

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_update(NULL, id, "planning", NULL, NULL, &flag),
           "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_update(mgr, NULL, "planning", NULL, NULL, &flag),
           "agent_id");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_update(mgr, id, "planning", NULL, NULL, NULL),
           "out_updated");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_update(mgr, BAD_UTF8, NULL, NULL, NULL, &flag),
           "agent_id");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_update(mgr, id, BAD_UTF8, NULL, NULL, &flag), "phase");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_update(mgr, id, NULL, BAD_UTF8, NULL, &flag),
           "metadata_json");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_update(mgr, id, NULL, NULL, BAD_UTF8, &flag), "error");
    EXPECT(AS_INVALID_JSON, as_lifecycle_update(mgr, id, NULL, "[1,2]", NULL, &flag),
           "JSON object");
    EXPECT(AS_INVALID_JSON, as_lifecycle_update(mgr, id, NULL, "{x}", NULL, &flag),
           "metadata_json");
    EXPECT(AS_INVALID_PHASE, as_lifecycle_update(mgr, id, "sleeping", NULL, NULL, &flag),
           "valid phases");
    EXPECT(AS_INVALID_SESSION_ID, as_lifecycle_update(mgr, "../x", "planning", NULL, NULL, &flag),
           "../x");
    CHECK(flag == true, "out_updated untouched by failures");
    OK(as_lifecycle_update(mgr, UNKNOWN_ID, "planning", NULL, NULL, &flag));
    CHECK(flag == false, "an unknown id updates nothing and says so");

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_should_resume(NULL, id, NULL, &flag), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_should_resume(mgr, NULL, NULL, &flag), "agent_id");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_should_resume(mgr, id, NULL, NULL), "out_resume");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_should_resume(mgr, id, BAD_UTF8, &flag), "policy_json");
    EXPECT(AS_INVALID_JSON, as_lifecycle_should_resume(mgr, id, "{\"max_idle\":1}", &flag),
           "max_idle");
    EXPECT(AS_INVALID_ARGUMENT,
           as_lifecycle_should_resume(mgr, id, "{\"max_idle_secs\":-5}", &flag), "max_idle_secs");
    EXPECT(AS_INVALID_ARGUMENT,
           as_lifecycle_should_resume(mgr, id, "{\"max_idle_secs\":1e20}", &flag),
           "from 0 to 1000000000");
    flag = true;
    OK(as_lifecycle_should_resume(mgr, UNKNOWN_ID, NULL, &flag));
    CHECK(flag == false, "an unknown id never resumes");

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_get(NULL, id, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_get(mgr, NULL, &out), "agent_id");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_get(mgr, id, NULL), "out_json");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_get(mgr, BAD_UTF8, &out), "agent_id");
    CHECK(out == MARKER, "out_json untouched by failures");
    OK(as_lifecycle_get(mgr, UNKNOWN_ID, &out));
    CHECK(out == NULL, "an unknown id gives NULL JSON");
    out = MARKER;

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_finalize(NULL, id, "completed", NULL, &flag),
           "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_finalize(mgr, NULL, "completed", NULL, &flag),
           "agent_id");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_finalize(mgr, id, NULL, NULL, &flag), "outcome");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_finalize(mgr, id, "completed", NULL, NULL),
           "out_finalized");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_finalize(mgr, id, BAD_UTF8, NULL, &flag), "outcome");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_finalize(mgr, id, "completed", BAD_UTF8, &flag),
           "summary");
    flag = true;
    OK(as_lifecycle_finalize(mgr, UNKNOWN_ID, "completed", NULL, &flag));
    CHECK(flag == false, "finalizing an unknown id says so");

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_cleanup(NULL, 24.0, &n), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_cleanup(mgr, 24.0, NULL), "out_removed");
    EXPECT(AS_INVALID_ARGUMENT, as_lifecycle_cleanup(mgr, NAN, &n), "finite");
    EXPECT(AS_INVALID_ARGUMENT, as_lifecycle_cleanup(mgr, INFINITY, &n), "finite");
    CHECK(n == 12345, "out_removed untouched by failures");

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_list(NULL, false, NULL, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_list(mgr, false, NULL, NULL), "out_json");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_list(mgr, false, BAD_UTF8, &out), "agent_name");

    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_save(NULL, id, "{}"), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_save(mgr, NULL, "{}"), "agent_id");
    EXPECT(AS_NULL_ARGUMENT, as_lifecycle_save(mgr, id, NULL), "doc_json");
    EXPECT(AS_INVALID_UTF8, as_lifecycle_save(mgr, id, BAD_UTF8), "doc_json");
    EXPECT(AS_INVALID_JSON, as_lifecycle_save(mgr, id, "\"text\""), "JSON object");
    EXPECT(AS_INVALID_SESSION_ID, as_lifecycle_save(mgr, "../x", "{}"), "../x");
    CHECK(out == MARKER, "out-parameters untouched by failures");

    /* ---- Session (a record-only session serves as the handle) ------------------------- */
    OK(as_manager_open_session(mgr, id, &s));
    as_session_free(NULL);

    EXPECT(AS_NULL_ARGUMENT, as_session_id(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_id(s, NULL), "out_id");
    EXPECT(AS_NULL_ARGUMENT, as_session_state(NULL, &st), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_state(s, NULL), "out_state");
    EXPECT(AS_NULL_ARGUMENT, as_session_record(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_record(s, NULL), "out_record_json");
    EXPECT(AS_NULL_ARGUMENT, as_session_send(NULL, "x", true), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_send(s, NULL, true), "text");
    EXPECT(AS_INVALID_UTF8, as_session_send(s, BAD_UTF8, true), "text");
    EXPECT(AS_NULL_ARGUMENT, as_session_send_keys(NULL, one_key, 1), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_send_keys(s, NULL, 1), "keys");
    EXPECT(AS_NULL_ARGUMENT, as_session_send_keys(s, null_key, 1), "keys[0]");
    EXPECT(AS_INVALID_UTF8, as_session_send_keys(s, bad_key, 1), "keys[0]");
    EXPECT(AS_NULL_ARGUMENT, as_session_send_bytes(NULL, (const uint8_t *)"x", 1), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_send_bytes(s, NULL, 1), "bytes");
    EXPECT(AS_NULL_ARGUMENT, as_session_interrupt(NULL), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_resize(NULL, 80, 24), "session");
    EXPECT(AS_INVALID_ARGUMENT, as_session_resize(s, 0, 24), "at least 1");
    EXPECT(AS_NULL_ARGUMENT, as_session_screen(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_screen(s, NULL), "out_text");
    EXPECT(AS_NULL_ARGUMENT, as_session_screen_json(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_screen_json(s, NULL), "out_json");
    EXPECT(AS_NULL_ARGUMENT, as_session_usage(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_usage(s, NULL), "out_json");
    EXPECT(AS_NULL_ARGUMENT, as_session_usage_series(NULL, 0, 10, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_usage_series(s, 0, 10, NULL), "out_json");
    EXPECT(AS_INVALID_ARGUMENT, as_session_usage_series(s, 0, 0, &out), "max");
    EXPECT(AS_NULL_ARGUMENT, as_session_telemetry(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_telemetry(s, NULL), "out_json");
    EXPECT(AS_NULL_ARGUMENT, as_session_wait(NULL, "running", 1.0, NULL), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_wait(s, NULL, 1.0, NULL), "state");
    EXPECT(AS_INVALID_UTF8, as_session_wait(s, BAD_UTF8, 1.0, NULL), "state");
    EXPECT(AS_INVALID_ARGUMENT, as_session_wait(s, "sleepy", 1.0, NULL), "sleepy");
    EXPECT(AS_INVALID_ARGUMENT, as_session_wait(s, "running", NAN, NULL), "NaN");
    EXPECT(AS_INVALID_ARGUMENT, as_session_wait(s, "running", 1e20, NULL), "from 0 to 1000000000");
    EXPECT(AS_INVALID_ARGUMENT, as_session_wait(s, "running", DBL_MAX, NULL), "timeout_secs");
    {
        const char *ready[] = {"running", "waiting_input"};
        const char *null_state[] = {NULL};
        const char *bad_state[] = {BAD_UTF8};
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(NULL, ready, 2, 1.0, &out), "session");
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(s, NULL, 2, 1.0, &out), "states");
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(s, null_state, 1, 1.0, &out), "states[0]");
        EXPECT(AS_INVALID_UTF8, as_session_wait_any(s, bad_state, 1, 1.0, &out), "states[0]");
        EXPECT(AS_INVALID_ARGUMENT, as_session_wait_any(s, ready, 0, 1.0, &out), "n_states");
        EXPECT(AS_INVALID_ARGUMENT, as_session_wait_any(s, ready, 2, NAN, &out), "NaN");
        EXPECT(AS_INVALID_ARGUMENT, as_session_wait_any(s, ready, 2, 1e20, &out),
               "from 0 to 1000000000");
        CHECK(out == MARKER, "wait_any failures leave out_record_json untouched");
    }
    EXPECT(AS_NULL_ARGUMENT, as_session_stop(NULL, 1.0, false, NULL), "session");
    EXPECT(AS_INVALID_ARGUMENT, as_session_stop(s, NAN, false, NULL), "timeout_secs");
    EXPECT(AS_INVALID_ARGUMENT, as_session_stop(s, INFINITY, false, NULL), "timeout_secs");
    EXPECT(AS_INVALID_ARGUMENT, as_session_stop(s, 1e20, false, NULL), "from 0 to 1000000000");
    EXPECT(AS_NULL_ARGUMENT, as_session_output(NULL, 0, 10, &bytes, &len, &next), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_output(s, 0, 10, NULL, &len, &next), "out_bytes");
    EXPECT(AS_NULL_ARGUMENT, as_session_output(s, 0, 10, &bytes, NULL, &next), "out_len");
    EXPECT(AS_NULL_ARGUMENT, as_session_output(s, 0, 10, &bytes, &len, NULL), "out_next");
    EXPECT(AS_NULL_ARGUMENT, as_session_output_follow(NULL, 0, 1.0, never_called, NULL, &next),
           "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_output_follow(s, 0, 1.0, NULL, NULL, &next),
           "callback");
    EXPECT(AS_NULL_ARGUMENT, as_session_output_follow(s, 0, 1.0, never_called, NULL, NULL),
           "out_next");
    EXPECT(AS_INVALID_ARGUMENT,
           as_session_output_follow(s, 0, NAN, never_called, NULL, &next), "NaN");
    EXPECT(AS_INVALID_ARGUMENT,
           as_session_output_follow(s, 0, 1e20, never_called, NULL, &next),
           "from 0 to 1000000000");
    EXPECT(AS_INVALID_ARGUMENT, as_session_events_wait(s, 0, 10, 1e20, &out, &next_seq),
           "from 0 to 1000000000");
    EXPECT(AS_INVALID_ARGUMENT, as_session_suspend(s, 1e20, &out), "from 0 to 1000000000");
    CHECK(out == MARKER && bytes == (uint8_t *)MARKER && len == 777 && next == 999 &&
              next_seq == 888,
          "out-parameters untouched by failures");

    /* A record-only session has no process: input, interrupts, stops and pauses are
       refused with AS_NO_PROCESS, and the message says what to do instead. */
    EXPECT(AS_NO_PROCESS, as_session_send(s, "hi", true), "no agent process");
    EXPECT(AS_NO_PROCESS, as_session_interrupt(s), "no agent process");
    EXPECT(AS_NO_PROCESS, as_session_stop(s, 1.0, false, &out), "finalize");
    EXPECT(AS_NO_PROCESS, as_session_pause(s, &out), "no agent process");
    CHECK(out == MARKER, "refused calls leave out_record_json untouched");
    EXPECT(AS_INVALID_ARGUMENT, as_session_send_keys(s, (const char *[]){"NoSuchKey"}, 1),
           "NoSuchKey");

    /* ---- Static helpers and frees ----------------------------------------------------- */
    CHECK(as_state_name(99) == NULL && as_state_name(-1) == NULL, "as_state_name range");
    CHECK(as_result_name(1) == NULL, "as_result_name of a non-code");
    as_string_free(NULL);
    as_bytes_free(NULL);

    /* ---- Use after free --------------------------------------------------------------- */
    {
        as_manager *m2 = NULL;
        as_session *s2 = NULL;
        OK(as_manager_open(home, &m2));
        OK(as_manager_open_session(m2, id, &s2));
        as_session_free(s2);
        EXPECT(AS_USE_AFTER_FREE, as_session_state(s2, &st), "freed");
        EXPECT(AS_USE_AFTER_FREE, as_session_send(s2, "x", true), "freed");
        EXPECT(AS_USE_AFTER_FREE, as_session_output(s2, 0, 1, &bytes, &len, &next), "freed");
        as_session_free(s2); /* double free: detected and ignored */
        as_manager_free(m2);
        EXPECT(AS_USE_AFTER_FREE, as_manager_home(m2, &out), "freed");
        EXPECT(AS_USE_AFTER_FREE, as_manager_list(m2, NULL, &out), "freed");
        EXPECT(AS_USE_AFTER_FREE, as_manager_open_session(m2, id, &s2), "as_manager");
        EXPECT(AS_USE_AFTER_FREE, as_lifecycle_get(m2, id, &out), "freed");
        as_manager_free(m2); /* double free: detected and ignored */
        CHECK(out == MARKER, "out-parameters untouched by stale handles");
        /* A handle of the wrong type, and a pointer that never was a handle. */
        EXPECT(AS_USE_AFTER_FREE, as_session_state((const as_session *)mgr, &st), "as_session");
        EXPECT(AS_USE_AFTER_FREE, as_manager_home((const as_manager *)s, &out), "as_manager");
        EXPECT(AS_USE_AFTER_FREE, as_manager_home((const as_manager *)&g_marker_storage, &out),
               "did not come from this library");
    }

    /* ---- Free while other threads are inside calls on the same handle ----------------- */
    {
        as_session *shared = NULL;
        pthread_t t[4];
        struct racer r[4];
        int i, calls = 0, bad = 0, freed = 0;
        OK(as_manager_open_session(mgr, id, &shared));
        for (i = 0; i < 4; i++) {
            r[i].s = shared;
            r[i].calls = r[i].bad = r[i].saw_freed = r[i].last_bad_rc = 0;
            pthread_create(&t[i], NULL, race_free, &r[i]);
        }
        /* Free only once every racer is inside its loop: a fixed pause is not enough when
           valgrind runs one thread at a time on a busy machine. */
        for (int waited = 0; waited < 60000; waited += 5) {
            int ready = 0;
            for (i = 0; i < 4; i++) ready += __atomic_load_n(&r[i].calls, __ATOMIC_SEQ_CST) >= 2;
            if (ready == 4) break;
            sleep_ms(5);
        }
        as_session_free(shared);
        for (i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            calls += r[i].calls;
            bad += r[i].bad;
            freed += r[i].saw_freed;
        }
        if (!(bad == 0 && freed == 4 && calls > 4)) {
            for (i = 0; i < 4; i++)
                fprintf(stderr, "racer %d: calls %d, bad %d (last result %d), saw freed %d\n", i,
                        r[i].calls, r[i].bad, r[i].last_bad_rc, r[i].saw_freed);
        }
        CHECK(bad == 0 && freed == 4 && calls > 4,
              "a free racing with calls: each call succeeds or reports the handle freed");
    }

    as_session_free(s);
    as_string_free(id);
    as_manager_free(mgr);
    return finish("test_bad_input");
}
