/*
 * Helpers shared by the C tests: checks that count and report, a private sessions home, and
 * polling reads of a session's output. Every test prints "ok"/"FAIL" lines and ends with
 * "<name>: N passed, N failed"; its exit status is non-zero when anything failed.
 */
#ifndef AS_TEST_COMMON_H
#define AS_TEST_COMMON_H

#include <agent_sessions.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_passed;
static int g_failed;

#define CHECK(cond, what)                                                                     \
    do {                                                                                      \
        if (cond) {                                                                           \
            g_passed++;                                                                       \
        } else {                                                                              \
            g_failed++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s (%s) [last error: %s]\n", __FILE__, __LINE__,     \
                    (what), #cond, as_last_error_message());                                  \
        }                                                                                     \
    } while (0)

static inline const char *rc_name(as_result rc) {
    const char *n = as_result_name((int)rc);
    return n ? n : "(not an as_result)";
}

/* Checks that `call` returned `expected`; for an error, also that the message is set and
 * contains `needle` (when not NULL). */
#define EXPECT(expected, call, needle)                                                        \
    do {                                                                                      \
        as_result rc_ = (call);                                                               \
        const char *msg_ = as_last_error_message();                                           \
        const char *needle_ = (needle);                                                       \
        if (rc_ != (expected)) {                                                              \
            g_failed++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s returned %s, expected %s [last error: %s]\n",     \
                    __FILE__, __LINE__, #call, rc_name(rc_), rc_name(expected), msg_);        \
        } else if ((expected) != AS_OK && (msg_ == NULL || msg_[0] == '\0')) {                \
            g_failed++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s set no error message\n", __FILE__, __LINE__,      \
                    #call);                                                                   \
        } else if ((expected) != AS_OK && needle_ != NULL && strstr(msg_, needle_) == NULL) { \
            g_failed++;                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: message lacks \"%s\": %s\n", __FILE__,           \
                    __LINE__, #call, needle_, msg_);                                          \
        } else {                                                                              \
            g_passed++;                                                                       \
        }                                                                                     \
    } while (0)

#define OK(call) EXPECT(AS_OK, call, NULL)

static inline int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

static inline double now_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* A fresh sessions home under $AS_TEST_TMP (or /tmp); the test script deletes it. */
static inline char *make_home(char *buf, size_t cap) {
    const char *base = getenv("AS_TEST_TMP");
    snprintf(buf, cap, "%s/home-XXXXXX", base && base[0] ? base : "/tmp");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return buf;
}

/* Does `hay` (len bytes) contain the C string `needle`? */
static inline int contains(const char *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    size_t i;
    if (n == 0) return 1;
    for (i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) return 1;
    }
    return 0;
}

/* Reads the session's output with offset reads, appending to acc (NUL-terminated, capped at
 * cap), until `needle` appears in it or `timeout` seconds pass. Returns 1 when found. Checks
 * that each read continues exactly where the previous one ended. */
static inline int read_until(const as_session *s, uint64_t *offset, char *acc, size_t cap,
                             size_t *acc_len, const char *needle, double timeout) {
    double deadline = now_secs() + timeout;
    for (;;) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        uint64_t next = 0;
        as_result rc = as_session_output(s, *offset, 4096, &bytes, &len, &next);
        if (rc != AS_OK) {
            fprintf(stderr, "as_session_output: %s\n", as_last_error_message());
            return 0;
        }
        if (next != *offset + len) {
            fprintf(stderr, "as_session_output: next %llu != offset %llu + len %zu\n",
                    (unsigned long long)next, (unsigned long long)*offset, len);
            as_bytes_free(bytes);
            return 0;
        }
        if (len > 0 && *acc_len + 1 < cap) {
            size_t take = len < cap - 1 - *acc_len ? len : cap - 1 - *acc_len;
            memcpy(acc + *acc_len, bytes, take);
            *acc_len += take;
            acc[*acc_len] = '\0';
        }
        as_bytes_free(bytes);
        *offset = next;
        if (contains(acc, *acc_len, needle)) return 1;
        if (now_secs() > deadline) return 0;
        if (len == 0) sleep_ms(20);
    }
}

#endif
