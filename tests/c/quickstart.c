#include <agent_sessions.h>
#include <stdio.h>

int main(void) {
    as_manager *mgr = NULL;
    as_session *s = NULL;
    const char *eof[] = {"C-d"};
    uint8_t *out = NULL;
    size_t len = 0;
    uint64_t next = 0;
    if (as_manager_open(NULL, &mgr) != AS_OK ||
        as_manager_start(mgr, "{\"agent\":\"custom\",\"args\":[\"cat\"]}", &s) != AS_OK ||
        as_session_send(s, "hello from C", true) != AS_OK ||
        as_session_send_keys(s, eof, 1) != AS_OK ||
        as_session_wait(s, "stopped", 10.0, NULL) != AS_OK ||
        as_session_output(s, 0, 65536, &out, &len, &next) != AS_OK) {
        fprintf(stderr, "agent-sessions: %s\n", as_last_error_message());
        return 1;
    }
    fwrite(out, 1, len, stdout);
    as_bytes_free(out);
    as_session_free(s);
    as_manager_free(mgr);
    return 0;
}
