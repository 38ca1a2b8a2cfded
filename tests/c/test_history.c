/*
 * Traceable, resumable sessions from C: pause and continue a real `bash` session, read its
 * events from a sequence number (once, then waiting for newer ones), read its conversation
 * history, its task, clean it up after the stop; suspend and resume a session of a
 * user-defined agent type (agents.toml in the home) on the same conversation; and NULL for
 * every pointer argument of the new functions.
 *
 * No fixed sleeps: every wait polls with a generous deadline (the machine may be busy).
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <errno.h>
#include <math.h>

#define DEADLINE 60.0
#define TASK "c-history-task"

/* A value out-parameters are preset to, to check they are not written on failure. */
static char g_marker_storage;
#define MARKER_NONE ((char *)&g_marker_storage)

/* The sequence numbers of an events array: smallest, largest and count ("seq": N fields). */
struct seqs {
    long long min;
    long long max;
    int count;
};

static struct seqs scan_seqs(const char *json) {
    struct seqs s = {0, 0, 0};
    const char *p = json;
    while (p != NULL && (p = strstr(p, "\"seq\":")) != NULL) {
        long long v;
        p += 6;
        errno = 0;
        v = strtoll(p, NULL, 10);
        if (errno != 0) break;
        if (s.count == 0 || v < s.min) s.min = v;
        if (s.count == 0 || v > s.max) s.max = v;
        s.count++;
    }
    return s;
}

/* How many times `needle` occurs in `hay`. */
static int count_of(const char *hay, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    while (hay != NULL && (hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += len;
    }
    return n;
}

/* Reads the session's output (continuing at *offset, appending to acc) until `needle`
 * occurs `n` times in it or `timeout` seconds pass. Returns 1 when it does. */
static int read_until_n(const as_session *s, uint64_t *offset, char *acc, size_t cap,
                        size_t *acc_len, const char *needle, int n, double timeout) {
    double deadline = now_secs() + timeout;
    while (count_of(acc, needle) < n) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        uint64_t next = 0;
        if (as_session_output(s, *offset, 4096, &bytes, &len, &next) != AS_OK) return 0;
        if (len > 0 && *acc_len + 1 < cap) {
            size_t take = len < cap - 1 - *acc_len ? len : cap - 1 - *acc_len;
            memcpy(acc + *acc_len, bytes, take);
            *acc_len += take;
            acc[*acc_len] = '\0';
        }
        as_bytes_free(bytes);
        *offset = next;
        if (now_secs() > deadline) return 0;
        if (len == 0) sleep_ms(20);
    }
    return 1;
}

/* Polls the history until it contains `needle` or DEADLINE passes; returns the last page
 * (free it) or NULL when a read failed. */
static char *history_until(const as_session *s, const char *needle) {
    double deadline = now_secs() + DEADLINE;
    for (;;) {
        char *page = NULL;
        if (as_session_history(s, 0, 100, &page) != AS_OK) {
            fprintf(stderr, "as_session_history: %s\n", as_last_error_message());
            return NULL;
        }
        if (strstr(page, needle) != NULL || now_secs() > deadline) return page;
        as_string_free(page);
        sleep_ms(50);
    }
}

/* Polls a dry-run cleanup until its report names `id` or DEADLINE passes. */
static char *cleanup_until(const as_manager *mgr, const char *options, const char *id) {
    double deadline = now_secs() + DEADLINE;
    for (;;) {
        char *report = NULL;
        if (as_manager_cleanup(mgr, options, &report) != AS_OK) {
            fprintf(stderr, "as_manager_cleanup: %s\n", as_last_error_message());
            return NULL;
        }
        if (strstr(report, id) != NULL || now_secs() > deadline) return report;
        as_string_free(report);
        sleep_ms(50);
    }
}

/* Polls the state until it is `want` or DEADLINE passes. */
static as_state state_until(const as_session *s, as_state want) {
    double deadline = now_secs() + DEADLINE;
    as_state st = AS_STATE_UNKNOWN;
    for (;;) {
        if (as_session_state(s, &st) != AS_OK) return AS_STATE_UNKNOWN;
        if (st == want || now_secs() > deadline) return st;
        sleep_ms(20);
    }
}

/* Pause, continue, events, history, tasks, resume refusals and cleanup on a bash session. */
static void bash_session(as_manager *mgr) {
    as_session *s = NULL;
    char *id = NULL;
    char *json = NULL;
    char acc[65536];
    size_t acc_len = 0;
    uint64_t offset = 0;
    as_state st = AS_STATE_UNKNOWN;
    int64_t next = -1, next2 = -1;
    struct seqs sq;

    acc[0] = '\0';
    OK(as_manager_start(mgr,
                        "{\"agent\":\"custom\",\"args\":[\"bash\",\"--norc\",\"--noprofile\"],"
                        "\"task_id\":\"" TASK "\",\"idle_after_secs\":0.3}",
                        &s));
    CHECK(s != NULL, "start gives a session");
    if (s == NULL) return;
    OK(as_session_id(s, &id));

    OK(as_session_send(s, "echo hi", true));
    /* The echo of the command line, then its output (bash may put escapes between them). */
    CHECK(read_until_n(s, &offset, acc, sizeof acc, &acc_len, "hi\r\n", 2, DEADLINE),
          "bash ran echo hi");
    OK(as_session_wait(s, "waiting_input", DEADLINE, NULL));

    /* ---- Pause and continue ------------------------------------------------------------ */
    OK(as_session_pause(s, &json));
    CHECK(json != NULL && strstr(json, "\"state\":\"paused\"") != NULL,
          "pause returns the record in state paused");
    as_string_free(json);
    json = NULL;
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_PAUSED, "as_session_state reads AS_STATE_PAUSED");
    CHECK(strcmp(as_state_name(AS_STATE_PAUSED), "paused") == 0, "AS_STATE_PAUSED is paused");
    OK(as_session_pause(s, NULL)); /* pausing a paused session changes nothing */
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_PAUSED, "still paused after a second pause");

    OK(as_session_continue(s, &json));
    CHECK(json != NULL && strstr(json, "\"state\":\"paused\"") == NULL,
          "continue returns a record that is not paused");
    as_string_free(json);
    json = NULL;
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_RUNNING || st == AS_STATE_WAITING_INPUT,
          "after continue the session is running or waiting");
    OK(as_session_continue(s, NULL)); /* continuing a live session changes nothing */

    /* ---- Events ------------------------------------------------------------------------ */
    OK(as_session_events(s, 0, 1000, &json, &next));
    CHECK(json != NULL && json[0] == '[', "events are a JSON array");
    CHECK(json != NULL && strstr(json, "\"kind\":\"state\"") != NULL, "a state event");
    CHECK(json != NULL && strstr(json, "\"kind\":\"input\"") != NULL, "an input event");
    CHECK(json != NULL && strstr(json, "echo hi") != NULL, "the input event has the text");
    CHECK(json != NULL && strstr(json, "\"kind\":\"pause\"") != NULL, "a pause event");
    CHECK(json != NULL && strstr(json, "\"kind\":\"continue\"") != NULL, "a continue event");
    CHECK(json != NULL && strstr(json, "\"to\":\"paused\"") != NULL, "a change to paused");
    sq = scan_seqs(json);
    CHECK(sq.count > 0 && sq.min == 1 && sq.max == next && sq.max == sq.count,
          "events are numbered 1..n and next_seq is the last");
    as_string_free(json);
    json = NULL;

    /* Paging: one at a time. */
    {
        int64_t one = -1;
        OK(as_session_events(s, 0, 1, &json, &one));
        sq = scan_seqs(json);
        CHECK(sq.count == 1 && sq.min == 1 && one == 1, "max 1 gives event 1 and next_seq 1");
        as_string_free(json);
        json = NULL;
        OK(as_session_events(s, one, 1, &json, &one));
        sq = scan_seqs(json);
        CHECK(sq.count == 1 && sq.min == 2 && one == 2, "then event 2");
        as_string_free(json);
        json = NULL;
    }

    /* Reading again from next_seq gives only newer events (the quiet timer may have moved
     * the state meanwhile, so there may be some). */
    OK(as_session_events(s, next, 1000, &json, &next2));
    sq = scan_seqs(json);
    CHECK(sq.count == 0 ? next2 == next : (sq.min == next + 1 && next2 == sq.max),
          "a read from next_seq returns only newer events");
    CHECK(sq.count > 0 || strcmp(json, "[]") == 0, "no newer events reads []");
    as_string_free(json);
    json = NULL;
    next = next2;

    /* A new input is an event the waiting read picks up. */
    OK(as_session_send(s, "echo again", true));
    OK(as_session_events_wait(s, next, 1000, DEADLINE, &json, &next2));
    sq = scan_seqs(json);
    CHECK(sq.count > 0 && sq.min == next + 1 && next2 == sq.max,
          "events_wait returns the newer events and the seq to continue from");
    as_string_free(json);
    json = NULL;
    {
        /* The input event may come after a state event: follow until it is there. */
        int found = 0;
        int64_t from = next;
        double deadline = now_secs() + DEADLINE;
        while (!found && now_secs() < deadline) {
            int64_t to = from;
            if (as_session_events_wait(s, from, 1000, 5.0, &json, &to) != AS_OK) break;
            found = strstr(json, "echo again") != NULL;
            as_string_free(json);
            json = NULL;
            from = to;
        }
        CHECK(found, "the new input event arrives through events_wait");
        next = from;
    }
    /* Nothing after the very end: an immediate, empty answer. */
    OK(as_session_events_wait(s, 1000000, 10, 0.0, &json, &next2));
    CHECK(json != NULL && strcmp(json, "[]") == 0 && next2 == 1000000,
          "a wait of 0 past the end returns [] and since_seq");
    as_string_free(json);
    json = NULL;
    {
        double t0 = now_secs();
        OK(as_session_events_wait(s, 1000000, 10, 0.2, &json, &next2));
        CHECK(json != NULL && strcmp(json, "[]") == 0 && now_secs() - t0 >= 0.15,
              "a wait with nothing new runs out and returns []");
        as_string_free(json);
        json = NULL;
    }

    /* ---- History ----------------------------------------------------------------------- */
    json = history_until(s, "echo again");
    CHECK(json != NULL && strstr(json, "\"source\":\"screen\"") != NULL,
          "a custom agent's history is built from the screen");
    CHECK(json != NULL && strstr(json, "\"role\":\"user\",\"text\":\"echo hi\"") != NULL,
          "history has the user message echo hi");
    CHECK(json != NULL && strstr(json, "\"next_offset\":null") != NULL, "one page holds it all");
    as_string_free(json);
    json = NULL;
    OK(as_session_history(s, 0, 1, &json));
    CHECK(json != NULL && strstr(json, "\"next_offset\":1") != NULL &&
              count_of(json, "\"role\":") == 1,
          "a page of 1 gives one message and next_offset 1");
    as_string_free(json);
    json = NULL;
    OK(as_session_history(s, 1000, 10, &json));
    CHECK(json != NULL && strstr(json, "\"messages\":[]") != NULL, "a page past the end");
    as_string_free(json);
    json = NULL;

    /* ---- Tasks ------------------------------------------------------------------------- */
    OK(as_manager_tasks(mgr, &json));
    CHECK(json != NULL && json[0] == '[' && strstr(json, "\"task_id\":\"" TASK "\"") != NULL &&
              strstr(json, id) != NULL,
          "tasks list the start's task with its session");
    as_string_free(json);
    json = NULL;
    OK(as_manager_task(mgr, TASK, &json));
    CHECK(json != NULL && json[0] == '{' && strstr(json, "\"session_count\":1") != NULL &&
              strstr(json, id) != NULL && strstr(json, "\"live\":1") != NULL,
          "task lookup gives the task with its one live session");
    as_string_free(json);
    json = NULL;
    json = MARKER_NONE;
    EXPECT(AS_TASK_NOT_FOUND, as_manager_task(mgr, "no-such-task", &json), "no-such-task");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_task(mgr, "", &json), "task id");
    CHECK(json == MARKER_NONE, "out_task_json untouched by failures");
    json = NULL;

    /* ---- Suspend and resume are refused for this session ----------------------------- */
    EXPECT(AS_NOT_RESUMABLE, as_session_resume(s, NULL, &json), "can be resumed");
    EXPECT(AS_NOT_RESUMABLE, as_session_suspend(s, 5.0, &json), "no resume command");
    CHECK(json == NULL, "no record written by refusals");
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_RUNNING || st == AS_STATE_WAITING_INPUT,
          "a refused suspend leaves the session running");

    /* ---- A live session cannot be removed ---------------------------------------------- */
    EXPECT(AS_SESSION_ACTIVE, as_manager_remove(mgr, id), "stop it first");
    OK(as_manager_get(mgr, id, &json));
    CHECK(json != NULL, "a refused remove leaves the session");
    as_string_free(json);
    json = NULL;

    /* ---- Stop, then clean up ----------------------------------------------------------- */
    /* An interactive bash ignores SIGTERM: a short grace period before SIGKILL. */
    OK(as_session_stop(s, 1.0, false, NULL));
    OK(as_session_events(s, next, 1000, &json, &next2));
    CHECK(json != NULL && strstr(json, "\"kind\":\"stop\"") != NULL &&
              strstr(json, "\"to\":\"stopped\"") != NULL,
          "the stop request and the ending are events");
    as_string_free(json);
    json = NULL;
    EXPECT(AS_SESSION_NOT_RUNNING, as_session_pause(s, NULL), "stopped");
    EXPECT(AS_SESSION_NOT_RUNNING, as_session_continue(s, NULL), "stopped");
    EXPECT(AS_NOT_RESUMABLE, as_session_resume(s, "{}", NULL), "no resume command");
    EXPECT(AS_INVALID_JSON, as_session_resume(s, "{\"argv\":[]}", NULL), "argv");

    json = cleanup_until(mgr, "{\"older_than_secs\":0,\"dry_run\":true}", id);
    CHECK(json != NULL && strstr(json, id) != NULL && strstr(json, "\"dry_run\":true") != NULL,
          "a dry-run cleanup reports the stopped session");
    as_string_free(json);
    json = NULL;
    OK(as_manager_get(mgr, id, &json));
    CHECK(json != NULL, "a dry run removes nothing");
    as_string_free(json);
    json = NULL;
    OK(as_manager_cleanup(mgr, "{\"older_than\":\"1d\"}", &json));
    CHECK(json != NULL && strstr(json, id) == NULL, "a session of today is not a day old");
    as_string_free(json);
    json = NULL;
    EXPECT(AS_INVALID_ARGUMENT,
           as_manager_cleanup(mgr, "{\"older_than\":\"0s\",\"states\":[\"running\"]}", &json),
           "running");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_cleanup(mgr, "{\"older_than\":\"7 parsecs\"}", &json),
           "7 parsecs");
    EXPECT(AS_INVALID_JSON, as_manager_cleanup(mgr, "{\"dry_run\":true}", &json), "older_than");
    OK(as_manager_cleanup(mgr, "{\"older_than\":\"0s\",\"states\":[\"stopped\"]}", &json));
    CHECK(json != NULL && strstr(json, id) != NULL && strstr(json, "\"dry_run\":false") != NULL,
          "a real cleanup removes the stopped session");
    as_string_free(json);
    json = NULL;
    EXPECT(AS_SESSION_NOT_FOUND, as_manager_get(mgr, id, &json), id);
    EXPECT(AS_SESSION_NOT_FOUND, as_session_events(s, 0, 10, &json, &next2), id);
    EXPECT(AS_SESSION_NOT_FOUND, as_session_events_wait(s, 0, 10, 1.0, &json, &next2), id);
    EXPECT(AS_SESSION_NOT_FOUND, as_session_history(s, 0, 10, &json), id);
    EXPECT(AS_TASK_NOT_FOUND, as_manager_task(mgr, TASK, &json), TASK);
    EXPECT(AS_TASK_NOT_FOUND, as_manager_list(mgr, "{\"task_id\":\"" TASK "\"}", &json), TASK);
    CHECK(json == NULL, "out-parameters untouched by the task errors");

    as_string_free(id);
    as_session_free(s);
}

/* Suspend and resume with a user-defined type whose conversation id is fixed at start. */
static void resumable_session(as_manager *mgr, const char *home) {
    as_session *s = NULL;
    char *json = NULL;
    char acc[65536];
    size_t acc_len = 0;
    uint64_t offset = 0;
    as_state st = AS_STATE_UNKNOWN;
    int64_t next = 0;
    char path[600];
    FILE *f;

    acc[0] = '\0';
    snprintf(path, sizeof path, "%s/agents.toml", home);
    f = fopen(path, "w");
    CHECK(f != NULL, "agents.toml written");
    if (f == NULL) return;
    /* `sh -c SCRIPT sh ID`: prints the conversation id, then echoes like cat; C-d ends it. */
    fputs("[agents.c-resumable]\n"
          "command = [\"/bin/sh\", \"-c\", \"echo conversation \\\"$1\\\"; exec cat\", \"sh\"]\n"
          "quit = [\"C-d\"]\n"
          "resume = [\"{id}\"]\n"
          "session_id_args = [\"{id}\"]\n",
          f);
    fclose(f);

    OK(as_manager_start(mgr, "{\"agent\":\"c-resumable\",\"idle_after_secs\":0.3}", &s));
    CHECK(s != NULL, "a user-defined resumable agent starts");
    if (s == NULL) return;
    CHECK(read_until(s, &offset, acc, sizeof acc, &acc_len, "conversation ", DEADLINE),
          "it shows its conversation id");
    OK(as_session_send(s, "first turn", true));
    CHECK(read_until(s, &offset, acc, sizeof acc, &acc_len, "first turn", DEADLINE),
          "it echoes");

    OK(as_session_suspend(s, 10.0, &json));
    CHECK(json != NULL && strstr(json, "\"state\":\"suspended\"") != NULL,
          "suspend ends in state suspended");
    as_string_free(json);
    json = NULL;
    OK(as_session_state(s, &st));
    CHECK(st == AS_STATE_SUSPENDED, "as_session_state reads AS_STATE_SUSPENDED");
    CHECK(strcmp(as_state_name(AS_STATE_SUSPENDED), "suspended") == 0,
          "AS_STATE_SUSPENDED is suspended");
    EXPECT(AS_SESSION_NOT_RUNNING, as_session_suspend(s, 1.0, NULL), "suspended");
    EXPECT(AS_INVALID_ARGUMENT, as_session_resume(s, "{\"env\":{\"A=B\":\"1\"}}", NULL),
           "A=B");

    OK(as_session_resume(s, "{\"env\":{\"C_RESUMED\":\"1\"}}", &json));
    CHECK(json != NULL && strstr(json, "\"state\":\"suspended\"") == NULL,
          "resume returns a live record");
    as_string_free(json);
    json = NULL;
    st = state_until(s, AS_STATE_WAITING_INPUT);
    CHECK(st == AS_STATE_WAITING_INPUT, "the resumed agent settles at its prompt");
    OK(as_session_send(s, "second turn", true));
    CHECK(read_until(s, &offset, acc, sizeof acc, &acc_len, "second turn", DEADLINE),
          "the resumed agent takes input");
    CHECK(count_of(acc, "conversation ") >= 2, "the agent started twice");

    OK(as_session_events(s, 0, 1000, &json, &next));
    CHECK(json != NULL && strstr(json, "\"kind\":\"suspend\"") != NULL &&
              strstr(json, "\"to\":\"suspended\"") != NULL &&
              strstr(json, "\"kind\":\"resume\"") != NULL,
          "suspend and resume are events of the same session");
    as_string_free(json);
    json = NULL;

    OK(as_session_stop(s, 10.0, false, NULL));
    as_session_free(s);
}

/* NULL for every pointer argument of the new functions, and other bad values. */
static void bad_input(as_manager *mgr) {
    as_session *s = NULL;
    char *id = NULL;
    char *out = MARKER_NONE;
    int64_t next = 999;

    /* A record-only session serves as the handle: it has no process. */
    OK(as_lifecycle_create(mgr, NULL, &id));
    OK(as_manager_open_session(mgr, id, &s));

    EXPECT(AS_NULL_ARGUMENT, as_session_pause(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_continue(NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_suspend(NULL, 1.0, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_resume(NULL, NULL, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_events(NULL, 0, 10, &out, &next), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_events(s, 0, 10, NULL, &next), "out_events_json");
    EXPECT(AS_NULL_ARGUMENT, as_session_events(s, 0, 10, &out, NULL), "out_next_seq");
    EXPECT(AS_NULL_ARGUMENT, as_session_events_wait(NULL, 0, 10, 1.0, &out, &next), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_events_wait(s, 0, 10, 1.0, NULL, &next),
           "out_events_json");
    EXPECT(AS_NULL_ARGUMENT, as_session_events_wait(s, 0, 10, 1.0, &out, NULL), "out_next_seq");
    EXPECT(AS_NULL_ARGUMENT, as_session_history(NULL, 0, 10, &out), "session");
    EXPECT(AS_NULL_ARGUMENT, as_session_history(s, 0, 10, NULL), "out_page_json");
    EXPECT(AS_NULL_ARGUMENT, as_manager_tasks(NULL, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_tasks(mgr, NULL), "out_tasks_json");
    EXPECT(AS_NULL_ARGUMENT, as_manager_task(NULL, TASK, &out), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_task(mgr, NULL, &out), "task_id");
    EXPECT(AS_NULL_ARGUMENT, as_manager_task(mgr, TASK, NULL), "out_task_json");
    EXPECT(AS_NULL_ARGUMENT, as_manager_cleanup(NULL, "{\"older_than\":\"7d\"}", &out),
           "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_cleanup(mgr, NULL, &out), "options_json");
    EXPECT(AS_NULL_ARGUMENT, as_manager_cleanup(mgr, "{\"older_than\":\"7d\"}", NULL),
           "out_report_json");

    /* Bad values. */
    EXPECT(AS_INVALID_UTF8, as_session_resume(s, "{\"args\":[\"\xff\"]}", &out), "options_json");
    EXPECT(AS_INVALID_UTF8, as_manager_task(mgr, "task-\xff", &out), "task_id");
    EXPECT(AS_INVALID_UTF8, as_manager_cleanup(mgr, "\xfe", &out), "options_json");
    EXPECT(AS_INVALID_JSON, as_manager_cleanup(mgr, "[]", &out), "options_json");
    EXPECT(AS_INVALID_JSON,
           as_manager_cleanup(mgr, "{\"older_than\":\"1d\",\"older_than_secs\":5}", &out),
           "both");
    EXPECT(AS_INVALID_JSON, as_manager_cleanup(mgr, "{\"older_than\":\"1d\",\"colour\":1}", &out),
           "colour");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_cleanup(mgr, "{\"older_than_secs\":-1}", &out),
           "older_than_secs");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_cleanup(mgr, "{\"older_than_secs\":1e20}", &out),
           "from 0 to 1000000000");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_cleanup(mgr, "{\"older_than\":\"1e20s\"}", &out),
           "1e20s");
    EXPECT(AS_INVALID_ARGUMENT, as_session_events_wait(s, 0, 10, 1e20, &out, &next),
           "from 0 to 1000000000");
    EXPECT(AS_INVALID_ARGUMENT, as_session_suspend(s, 1e20, &out), "from 0 to 1000000000");
    EXPECT(AS_INVALID_ARGUMENT, as_session_events(s, 0, 0, &out, &next), "max");
    EXPECT(AS_INVALID_ARGUMENT, as_session_events_wait(s, 0, 0, 1.0, &out, &next), "max");
    EXPECT(AS_INVALID_ARGUMENT, as_session_events_wait(s, 0, 10, NAN, &out, &next), "NaN");
    EXPECT(AS_INVALID_ARGUMENT, as_session_history(s, 0, 0, &out), "limit");
    EXPECT(AS_INVALID_ARGUMENT, as_session_suspend(s, NAN, &out), "timeout_secs");
    EXPECT(AS_INVALID_ARGUMENT, as_session_suspend(s, INFINITY, &out), "timeout_secs");
    EXPECT(AS_INVALID_JSON, as_session_resume(s, "{", &out), "options_json");
    CHECK(out == MARKER_NONE && next == 999, "out-parameters untouched by failures");

    /* A record-only session has no process: pause, suspend and resume say so. */
    EXPECT(AS_NO_PROCESS, as_session_pause(s, &out), "no agent process");
    EXPECT(AS_NO_PROCESS, as_session_continue(s, &out), "no agent process");
    EXPECT(AS_NO_PROCESS, as_session_suspend(s, 1.0, &out), "no agent process");
    EXPECT(AS_NOT_RESUMABLE, as_session_resume(s, NULL, &out), "lifecycle record");
    CHECK(out == MARKER_NONE, "out_record_json untouched by failures");
    /* But its events (the lifecycle record's creation) and empty history read fine. */
    OK(as_session_events(s, 0, 10, &out, &next));
    CHECK(out != NULL && out[0] == '[', "a record-only session has an events array");
    as_string_free(out);
    OK(as_session_history(s, 0, 10, &out));
    CHECK(out != NULL && strstr(out, "\"messages\":[]") != NULL, "and an empty history");
    as_string_free(out);

    /* Stale handles. */
    as_session_free(s);
    EXPECT(AS_USE_AFTER_FREE, as_session_pause(s, NULL), "freed");
    EXPECT(AS_USE_AFTER_FREE, as_session_events(s, 0, 10, &out, &next), "freed");
    EXPECT(AS_USE_AFTER_FREE, as_session_history(s, 0, 10, &out), "freed");
    as_string_free(id);
}

int main(void) {
    char home[512];
    const char *host_bin = getenv("AS_TEST_HOST_BIN");
    as_manager *mgr = NULL;

    make_home(home, sizeof home);
    OK(as_manager_open(home, &mgr));
    if (host_bin != NULL) OK(as_manager_set_host_binary(mgr, host_bin));

    bad_input(mgr);
    bash_session(mgr);
    resumable_session(mgr, home);

    as_manager_free(mgr);
    return finish("test_history");
}
