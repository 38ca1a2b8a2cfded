/*
 * The C half of bench/ffi_overhead: times one C ABI call per sample (clock_gettime around
 * each call), after a warm-up of a tenth as many calls, and prints median, p10 and p90.
 * Usage: bench HOME SESSION_ID [SAMPLES]   (run.sh runs it)
 */
#define _POSIX_C_SOURCE 200809L
#include <agent_sessions.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static as_session *g_s;

static void call_state(void) {
    as_state st;
    if (as_session_state(g_s, &st) != AS_OK) {
        fprintf(stderr, "as_session_state: %s\n", as_last_error_message());
        exit(1);
    }
}

static void call_record(void) {
    char *j = NULL;
    if (as_session_record(g_s, &j) != AS_OK) exit(1);
    as_string_free(j);
}

static void call_id(void) {
    char *j = NULL;
    if (as_session_id(g_s, &j) != AS_OK) exit(1);
    as_string_free(j);
}

static void bench(const char *label, int n, void (*f)(void)) {
    long long *ns = malloc(sizeof *ns * (size_t)n);
    int i;
    for (i = 0; i < n / 10; i++) f();
    for (i = 0; i < n; i++) {
        long long t = now_ns();
        f();
        ns[i] = now_ns() - t;
    }
    qsort(ns, (size_t)n, sizeof *ns, cmp);
    printf("c     %-34s median %8lld ns   p10 %8lld ns   p90 %8lld ns   (n=%d)\n", label,
           ns[n / 2], ns[n / 10], ns[n * 9 / 10], n);
    free(ns);
}

int main(int argc, char **argv) {
    as_manager *m = NULL;
    int n = argc > 3 ? atoi(argv[3]) : 20000;
    if (argc < 3 || n < 10) {
        fprintf(stderr, "usage: bench HOME SESSION_ID [SAMPLES]\n");
        return 2;
    }
    if (as_manager_open(argv[1], &m) != AS_OK || as_manager_open_session(m, argv[2], &g_s) != AS_OK) {
        fprintf(stderr, "%s\n", as_last_error_message());
        return 1;
    }
    bench("cabi  as_session_state", n, call_state);
    bench("cabi  as_session_record+free", n, call_record);
    bench("cabi  as_session_id+free (floor)", n, call_id);
    as_session_free(g_s);
    as_manager_free(m);
    return 0;
}
