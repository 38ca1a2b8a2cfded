/*
 * A real session from C: start `cat` as a custom agent, send input, read its output with
 * offset reads until the echo appears, wait for a state (and for any of several, with
 * as_session_wait_any's bad arguments), follow output with a callback,
 * stop it and read the record. Then remove it, and drive a second session from several
 * threads at once.
 *
 * The host binary comes from $AS_TEST_HOST_BIN through as_manager_set_host_binary (the test
 * script runs this test without $AGENT_SESSIONS_HOST_BIN to prove that path works).
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <math.h>
#include <pthread.h>

struct follow_acc {
    uint64_t bytes;
    uint64_t expect_offset;
    int chunks;
    int in_order;
    int stop_after;
};

static int on_chunk(void *user_data, const uint8_t *bytes, size_t len, uint64_t offset) {
    struct follow_acc *acc = (struct follow_acc *)user_data;
    if (bytes == NULL || len == 0 || offset != acc->expect_offset) acc->in_order = 0;
    acc->bytes += len;
    acc->expect_offset = offset + len;
    acc->chunks++;
    return acc->stop_after > 0 && acc->chunks >= acc->stop_after;
}

struct worker {
    const as_session *session;
    int ok;
};

static void *hammer(void *arg) {
    struct worker *w = (struct worker *)arg;
    int i;
    w->ok = 1;
    for (i = 0; i < 200; i++) {
        as_state st;
        char *json = NULL;
        if (as_session_state(w->session, &st) != AS_OK) w->ok = 0;
        if (as_session_record(w->session, &json) != AS_OK) w->ok = 0;
        as_string_free(json);
        /* Each thread has its own last error. */
        if (as_session_wait(w->session, "no-such-state", 1.0, NULL) != AS_INVALID_ARGUMENT ||
            strstr(as_last_error_message(), "no-such-state") == NULL) {
            w->ok = 0;
        }
    }
    return NULL;
}

int main(void) {
    char home[512];
    const char *host_bin = getenv("AS_TEST_HOST_BIN");
    as_manager *mgr = NULL;
    as_session *s = NULL;
    as_session *again = NULL;
    char *id = NULL;
    char *json = NULL;
    char *text = NULL;
    char acc[65536];
    size_t acc_len = 0;
    uint64_t offset = 0;
    as_state st = AS_STATE_UNKNOWN;
    struct follow_acc fa;
    uint64_t next = 0;

    acc[0] = '\0';
    make_home(home, sizeof home);
    OK(as_manager_open(home, &mgr));
    CHECK(host_bin != NULL, "AS_TEST_HOST_BIN is set");
    if (host_bin == NULL) return finish("test_session");
    OK(as_manager_set_host_binary(mgr, host_bin));

    OK(as_manager_home(mgr, &text));
    CHECK(text != NULL && strcmp(text, home) == 0, "as_manager_home gives the home");
    as_string_free(text);
    text = NULL;

    /* Start. */
    OK(as_manager_start(mgr,
                        "{\"agent\":\"custom\",\"args\":[\"/bin/cat\"],\"task_id\":\"c-task-1\","
                        "\"name\":\"c-cat\",\"env\":{\"AS_SECRET\":\"hunter2\"},"
                        "\"cols\":100,\"rows\":30,\"idle_after_secs\":0.3}",
                        &s));
    CHECK(s != NULL, "start gives a session");
    if (s == NULL) return finish("test_session");
    OK(as_session_id(s, &id));
    CHECK(id != NULL && strncmp(id, "agent-", 6) == 0, "id shaped agent-...");
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_STARTING || st == AS_STATE_RUNNING || st == AS_STATE_WAITING_INPUT,
          "a new session is live");

    /* Send, then read the echo with offset reads. */
    OK(as_session_send(s, "hello from C", true));
    CHECK(read_until(s, &offset, acc, sizeof acc, &acc_len, "hello from C", 20.0),
          "the echo appears in the output");
    OK(as_session_send_bytes(s, (const uint8_t *)"raw-bytes\n", 10));
    CHECK(read_until(s, &offset, acc, sizeof acc, &acc_len, "raw-bytes", 20.0),
          "raw bytes are echoed");
    {
        const char *keys[] = {"k", "e", "y", "s", "Enter"};
        OK(as_session_send_keys(s, keys, 5));
    }
    CHECK(read_until(s, &offset, acc, sizeof acc, &acc_len, "keys", 20.0),
          "named keys are echoed");

    /* Wait for the quiet state, and check the record that comes with it. */
    OK(as_session_wait(s, "waiting_input", 20.0, &json));
    CHECK(json != NULL && strstr(json, "\"state\":\"waiting_input\"") != NULL,
          "wait returns the record in the wanted state");
    as_string_free(json);
    json = NULL;

    /* Waiting for any of several states: "ready" is running or waiting_input. */
    {
        static char marker[] = "untouched";
        const char *ready[] = {"running", "waiting_input"};
        const char *ended[] = {"stopped", "failed"};
        const char *with_null[] = {"running", NULL};
        const char *unknown[] = {"running", "sleepy"};
        const char *bad_utf8[] = {"\xff"};
        char *out_json = marker;
        OK(as_session_wait_any(s, ready, 2, 20.0, &json));
        CHECK(json != NULL && (strstr(json, "\"state\":\"waiting_input\"") != NULL ||
                               strstr(json, "\"state\":\"running\"") != NULL),
              "wait_any returns the record in one of the states");
        as_string_free(json);
        json = NULL;
        OK(as_session_wait_any(s, ready + 1, 1, -1.0, NULL)); /* one state, no limit, no record */
        EXPECT(AS_TIMEOUT, as_session_wait_any(s, ended, 2, 0.2, &out_json),
               "stopped or failed");
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(NULL, ready, 2, 1.0, &out_json), "session");
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(s, NULL, 2, 1.0, &out_json), "states");
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(s, NULL, 0, 1.0, &out_json), "states");
        EXPECT(AS_INVALID_ARGUMENT, as_session_wait_any(s, ready, 0, 1.0, &out_json), "n_states");
        EXPECT(AS_NULL_ARGUMENT, as_session_wait_any(s, with_null, 2, 1.0, &out_json),
               "states[1]");
        EXPECT(AS_INVALID_ARGUMENT, as_session_wait_any(s, unknown, 2, 1.0, &out_json),
               "states[1]: unknown state 'sleepy'");
        EXPECT(AS_INVALID_UTF8, as_session_wait_any(s, bad_utf8, 1, 1.0, &out_json),
               "states[0]");
        EXPECT(AS_INVALID_ARGUMENT, as_session_wait_any(s, ready, 2, NAN, &out_json), "NaN");
        CHECK(out_json == marker, "failed waits leave out_record_json untouched");
    }

    OK(as_session_screen(s, &text));
    CHECK(text != NULL && strstr(text, "hello from C") != NULL, "screen shows the echo");
    as_string_free(text);
    text = NULL;
    OK(as_session_screen_json(s, &json));
    CHECK(json != NULL && strstr(json, "\"cols\":100") != NULL && strstr(json, "\"text\":"),
          "screen JSON has text and size");
    as_string_free(json);
    json = NULL;
    OK(as_session_resize(s, 120, 40));

    /* Usage and telemetry: cat reports no tokens, so they are null, never 0. */
    OK(as_session_usage(s, &json));
    CHECK(json != NULL && strstr(json, id) != NULL && strstr(json, "\"tokens_input\":null") &&
              strstr(json, "\"total_tokens\":null"),
          "usage: no token source gives null figures");
    as_string_free(json);
    json = NULL;
    OK(as_session_usage_series(s, 0, 100, &json));
    CHECK(json != NULL && strcmp(json, "[]") == 0, "usage series: no figures, no point");
    as_string_free(json);
    json = NULL;
    OK(as_session_telemetry(s, &json));
    CHECK(json != NULL && strstr(json, "\"duration_ms\":") && strstr(json, "\"cost_usd\":"),
          "telemetry summary");
    as_string_free(json);
    json = NULL;

    /* A hosted session can carry a lifecycle phase. */
    {
        bool updated = false;
        OK(as_lifecycle_update(mgr, id, "executing", "{\"from\":\"c\"}", NULL, &updated));
        CHECK(updated, "a hosted session takes a phase");
    }

    /* Lookups by id and lists. */
    OK(as_manager_get(mgr, id, &json));
    CHECK(json != NULL && strstr(json, id) != NULL, "get by id");
    CHECK(json != NULL && strstr(json, "\"AS_SECRET\"") != NULL, "env names are kept");
    CHECK(json != NULL && strstr(json, "hunter2") == NULL, "env values are never stored");
    CHECK(json != NULL && strstr(json, "\"phase\":\"executing\"") != NULL, "phase in record");
    as_string_free(json);
    json = NULL;
    OK(as_manager_list(mgr, "{\"task_id\":\"c-task-1\"}", &json));
    CHECK(json != NULL && json[0] == '[' && strstr(json, id) != NULL, "list by task");
    as_string_free(json);
    json = NULL;
    OK(as_manager_list(mgr, "{\"state\":\"stopped\"}", &json));
    CHECK(json != NULL && strstr(json, id) == NULL, "a live session is not listed as stopped");
    as_string_free(json);
    json = NULL;
    OK(as_manager_list(mgr, NULL, &json));
    CHECK(json != NULL && strstr(json, id) != NULL, "list everything");
    as_string_free(json);
    json = NULL;

    OK(as_manager_open_session(mgr, id, &again));
    OK(as_session_state(again, &st));
    CHECK(st == AS_STATE_WAITING_INPUT || st == AS_STATE_RUNNING, "second handle sees it live");

    /* Several threads on one session handle. */
    {
        pthread_t t[4];
        struct worker w[4];
        int i, all = 1;
        for (i = 0; i < 4; i++) {
            w[i].session = again;
            pthread_create(&t[i], NULL, hammer, &w[i]);
        }
        for (i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            all = all && w[i].ok;
        }
        CHECK(all, "concurrent calls on one handle from 4 threads");
    }

    /* Following a live session runs into the timeout after delivering what is there. */
    memset(&fa, 0, sizeof fa);
    fa.in_order = 1;
    EXPECT(AS_TIMEOUT, as_session_output_follow(s, 0, 0.3, on_chunk, &fa, &next), "offset");
    CHECK(fa.bytes >= offset && fa.in_order, "follow delivered the output so far, in order");

    /* Stop, and read everything back. */
    OK(as_session_stop(s, 5.0, false, &json));
    CHECK(json != NULL && strstr(json, "\"state\":\"stopped\"") != NULL, "stop ends stopped");
    as_string_free(json);
    json = NULL;
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_STOPPED, "state reads stopped");
    OK(as_session_stop(s, -1, false, NULL)); /* idempotent */

    memset(&fa, 0, sizeof fa);
    fa.in_order = 1;
    OK(as_session_output_follow(s, 0, 10.0, on_chunk, &fa, &next));
    CHECK(fa.in_order && fa.bytes == next && next >= offset, "follow of an ended session ends");
    memset(&fa, 0, sizeof fa);
    fa.in_order = 1;
    fa.stop_after = 1;
    OK(as_session_output_follow(s, 0, 10.0, on_chunk, &fa, &next));
    CHECK(fa.chunks == 1 && next == fa.expect_offset, "a callback returning 1 stops following");
    {
        uint8_t *one = NULL;
        size_t one_len = 0;
        uint64_t one_next = 0;
        OK(as_session_output(s, 0, 1, &one, &one_len, &one_next));
        CHECK(one != NULL && one_len == 1 && one_next == 1, "a 1-byte read");
        as_bytes_free(one);
        OK(as_session_output(s, next + 1000000, 10, &one, &one_len, &one_next));
        CHECK(one == NULL && one_len == 0 && one_next == next + 1000000, "a read past the end");
    }

    OK(as_session_record(s, &json));
    CHECK(json != NULL, "record after stop");
    if (json != NULL) {
        char want[256];
        snprintf(want, sizeof want, "\"session_id\":\"%s\"", id);
        CHECK(strstr(json, want) != NULL, "record session_id");
        CHECK(strstr(json, "\"agent_type\":\"custom\"") != NULL, "record agent_type");
        CHECK(strstr(json, "\"task_id\":\"c-task-1\"") != NULL, "record task_id");
        CHECK(strstr(json, "\"name\":\"c-cat\"") != NULL, "record name");
        CHECK(strstr(json, "\"state\":\"stopped\"") != NULL, "record state");
        CHECK(strstr(json, "\"command\":[\"/bin/cat\"]") != NULL, "record command");
        CHECK(strstr(json, "\"ended_at\":null") == NULL, "record ended_at set");
        CHECK(strstr(json, "\"to\":\"running\"") != NULL, "history has running");
        CHECK(strstr(json, "\"to\":\"stopping\"") != NULL, "history has stopping");
        CHECK(strstr(json, "\"to\":\"stopped\"") != NULL, "history has stopped");
        CHECK(strstr(json, "\"transitions\":[") != NULL, "record transitions");
    }
    as_string_free(json);
    json = NULL;

    EXPECT(AS_SESSION_NOT_RUNNING, as_session_send(s, "late", true), "stopped");
    EXPECT(AS_STATE_UNREACHABLE, as_session_wait(s, "running", 1.0, NULL), "never");
    {
        const char *ready[] = {"running", "waiting_input"};
        const char *ended[] = {"failed", "stopped"};
        EXPECT(AS_STATE_UNREACHABLE, as_session_wait_any(s, ready, 2, 1.0, NULL),
               "can never become running or waiting_input");
        OK(as_session_wait_any(s, ended, 2, 1.0, &json));
        CHECK(json != NULL && strstr(json, "\"state\":\"stopped\"") != NULL,
              "wait_any for an ended session's state returns at once");
        as_string_free(json);
        json = NULL;
    }
    {
        /* Output and screen stay readable after the end. */
        char all[65536];
        size_t all_len = 0;
        uint64_t off = 0;
        all[0] = '\0';
        CHECK(read_until(s, &off, all, sizeof all, &all_len, "hello from C", 5.0),
              "output readable after stop");
    }
    OK(as_session_screen(s, &text));
    CHECK(text != NULL && strstr(text, "hello from C") != NULL, "last screen after stop");
    as_string_free(text);
    text = NULL;

    /* Interrupt: custom agents get Ctrl-C, which ends cat with SIGINT. */
    {
        as_session *s2 = NULL;
        char *id2 = NULL;
        OK(as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"]}", &s2));
        OK(as_session_id(s2, &id2));
        EXPECT(AS_SESSION_ACTIVE, as_manager_remove(mgr, id2), "stop it first");
        OK(as_session_interrupt(s2));
        OK(as_session_wait(s2, "failed", 20.0, &json));
        CHECK(json != NULL && strstr(json, "\"exit_signal\":2") != NULL,
              "the interrupted agent failed with SIGINT recorded");
        as_string_free(json);
        json = NULL;
        EXPECT(AS_SESSION_NOT_RUNNING, as_session_interrupt(s2), "failed");
        OK(as_manager_remove(mgr, id2));
        EXPECT(AS_SESSION_NOT_FOUND, as_session_state(s2, &st), id2);
        as_string_free(id2);
        as_session_free(s2);
    }

    /* Remove the first one too. */
    OK(as_manager_remove(mgr, id));
    EXPECT(AS_SESSION_NOT_FOUND, as_manager_get(mgr, id, &json), "no session");
    EXPECT(AS_SESSION_NOT_FOUND, as_session_record(again, &json), "no session");

    /* Free order does not matter: a session handle outlives its manager. */
    as_manager_free(mgr);
    EXPECT(AS_SESSION_NOT_FOUND, as_session_state(s, &st), "no session");
    as_session_free(again);
    as_session_free(s);
    as_string_free(id);
    return finish("test_session");
}
