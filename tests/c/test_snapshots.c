/*
 * Snapshots from C: take one of a running session (workspace archived, .gitignore
 * honoured), list, read by name, restore it as a new session in a new folder (the files
 * unpacked, the record linked to its origin), prune and remove; bad input (NULL pointers,
 * malformed JSON and references, a missing snapshot, a non-empty target) is refused with
 * the output untouched and nothing made.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <sys/stat.h>

static char g_marker_storage;
#define MARKER_NONE ((char *)&g_marker_storage)

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

int main(void) {
    char home[512], ws[600], path[800], opts[1200], target[700];
    as_manager *mgr = NULL;
    as_session *s = NULL, *r = NULL;
    char *json = NULL;

    make_home(home, sizeof home);
    OK(as_manager_open(home, &mgr));
    snprintf(ws, sizeof ws, "%s/ws", home);
    mkdir(ws, 0700);
    snprintf(path, sizeof path, "%s/kept.txt", ws);
    write_file(path, "from C\n");
    snprintf(path, sizeof path, "%s/.gitignore", ws);
    write_file(path, "*.tmp\n");
    snprintf(path, sizeof path, "%s/scratch.tmp", ws);
    write_file(path, "ignored\n");

    snprintf(opts, sizeof opts, "{\"agent\":\"custom\",\"args\":[\"cat\"],\"cwd\":\"%s\"}", ws);
    OK(as_manager_start(mgr, opts, &s));
    char *id = NULL;
    OK(as_session_id(s, &id));

    OK(as_manager_snapshot(mgr, id, "{\"name\":\"c-snap\"}", &json));
    CHECK(json != NULL && strstr(json, "\"name\":\"c-snap\"") != NULL &&
              strstr(json, "\"files\":2") != NULL,
          "the snapshot archives kept.txt and .gitignore, not the ignored file");
    as_string_free(json);
    json = NULL;
    OK(as_manager_snapshots(mgr, id, &json));
    CHECK(json != NULL && json[0] == '[' && strstr(json, "c-snap") != NULL, "listed");
    as_string_free(json);
    json = NULL;
    OK(as_manager_snapshot_get(mgr, "c-snap", &json));
    CHECK(json != NULL && strstr(json, id) != NULL, "read by name, it names its session");
    as_string_free(json);
    json = NULL;

    snprintf(target, sizeof target, "%s/back", home);
    snprintf(opts, sizeof opts, "{\"cwd\":\"%s\",\"name\":\"restored-c\"}", target);
    OK(as_manager_restore(mgr, "c-snap", opts, &r));
    OK(as_session_record(r, &json));
    CHECK(json != NULL && strstr(json, "\"restored_from\"") != NULL &&
              strstr(json, "\"name\":\"restored-c\"") != NULL,
          "the restored session is linked to the snapshot");
    as_string_free(json);
    json = NULL;
    snprintf(path, sizeof path, "%s/kept.txt", target);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 7, "the file is unpacked");
    snprintf(path, sizeof path, "%s/scratch.tmp", target);
    CHECK(stat(path, &st) != 0, "the ignored file is not");

    /* Refusals: outputs untouched, nothing made. */
    json = MARKER_NONE;
    as_session *none = NULL;
    EXPECT(AS_NULL_ARGUMENT, as_manager_snapshot(NULL, id, NULL, &json), "manager");
    EXPECT(AS_NULL_ARGUMENT, as_manager_snapshot(mgr, NULL, NULL, &json), "session_id");
    EXPECT(AS_NULL_ARGUMENT, as_manager_snapshot(mgr, id, NULL, NULL), "out_snapshot_json");
    EXPECT(AS_INVALID_JSON, as_manager_snapshot(mgr, id, "{\"name\":", &json), "options_json");
    EXPECT(AS_INVALID_JSON, as_manager_snapshot(mgr, id, "{\"nme\":1}", &json), "nme");
    EXPECT(AS_INVALID_SESSION_ID, as_manager_snapshot(mgr, "../x", NULL, &json), NULL);
    EXPECT(AS_INVALID_ARGUMENT, as_manager_snapshot(mgr, id, "{\"name\":\"c-snap\"}", &json),
           "already named");
    EXPECT(AS_SNAPSHOT_NOT_FOUND, as_manager_snapshot_get(mgr, "nosuch", &json), "snapshot ls");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_snapshot_get(mgr, "a/b", &json), NULL);
    EXPECT(AS_SNAPSHOT_NOT_FOUND, as_manager_snapshot_remove(mgr, "nosuch"), NULL);
    EXPECT(AS_INVALID_ARGUMENT, as_manager_snapshot_prune(mgr, "{}", &json), "--keep");
    EXPECT(AS_INVALID_ARGUMENT, as_manager_restore(mgr, "c-snap", opts, &none), "not empty");
    EXPECT(AS_SNAPSHOT_NOT_FOUND, as_manager_restore(mgr, "nosuch", NULL, &none), NULL);
    EXPECT(AS_NULL_ARGUMENT, as_manager_restore(mgr, "c-snap", NULL, NULL), "out_session");
    CHECK(json == MARKER_NONE && none == NULL, "outputs untouched by failures");
    json = NULL;

    OK(as_manager_snapshot_prune(mgr, "{\"keep\":5}", &json));
    CHECK(json != NULL && strcmp(json, "[]") == 0, "nothing beyond 5 to prune");
    as_string_free(json);
    json = NULL;
    OK(as_manager_snapshot_remove(mgr, "c-snap"));
    OK(as_manager_snapshots(mgr, NULL, &json));
    CHECK(json != NULL && strcmp(json, "[]") == 0, "removed");
    as_string_free(json);

    OK(as_session_stop(r, 5.0, true, NULL));
    OK(as_session_stop(s, 5.0, true, NULL));
    as_session_free(r);
    as_session_free(s);
    as_string_free(id);
    as_manager_free(mgr);
    return finish("test_snapshots");
}
