/*
 * The header's version macros match Cargo.toml (the build passes the crate version as
 * AS_TEST_EXPECTED_VERSION) and the library actually linked; result codes and state names
 * are what the documentation says.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#ifndef AS_TEST_EXPECTED_VERSION
#error "compile with -DAS_TEST_EXPECTED_VERSION='\"x.y.z\"' (the crate version)"
#endif

int main(void) {
    char numbers[64];
    char *agents = NULL;
    int code;

    snprintf(numbers, sizeof numbers, "%d.%d.%d", AS_VERSION_MAJOR, AS_VERSION_MINOR,
             AS_VERSION_PATCH);
    CHECK(strcmp(AS_VERSION_STRING, AS_TEST_EXPECTED_VERSION) == 0,
          "AS_VERSION_STRING matches Cargo.toml");
    CHECK(strcmp(numbers, AS_TEST_EXPECTED_VERSION) == 0,
          "AS_VERSION_MAJOR/MINOR/PATCH match Cargo.toml");
    CHECK(as_version() != NULL && strcmp(as_version(), AS_VERSION_STRING) == 0,
          "as_version() matches the header");

    CHECK(AS_OK == 0, "AS_OK is 0");
    for (code = AS_NULL_ARGUMENT; code <= 7099; code++) {
        const char *name = as_result_name(code);
        if (name != NULL) CHECK(strncmp(name, "AS_", 3) == 0, "error names start with AS_");
    }
    CHECK(strcmp(as_result_name(AS_OK), "AS_OK") == 0, "AS_OK name");
    CHECK(strcmp(as_result_name(AS_SESSION_NOT_FOUND), "AS_SESSION_NOT_FOUND") == 0,
          "AS_SESSION_NOT_FOUND name");
    CHECK(AS_NULL_ARGUMENT == 7001 && AS_PROTOCOL == 7021, "documented code values");
    CHECK(AS_TASK_NOT_FOUND == 7022 && AS_SESSION_ACTIVE == 7023 && AS_NO_PROCESS == 7024 &&
              AS_NOT_RESUMABLE == 7025 && AS_SNAPSHOT_NOT_FOUND == 7026,
          "the codes of the newer error kinds");
    CHECK(strcmp(as_result_name(AS_TASK_NOT_FOUND), "AS_TASK_NOT_FOUND") == 0 &&
              strcmp(as_result_name(AS_SESSION_ACTIVE), "AS_SESSION_ACTIVE") == 0 &&
              strcmp(as_result_name(AS_NO_PROCESS), "AS_NO_PROCESS") == 0 &&
              strcmp(as_result_name(AS_NOT_RESUMABLE), "AS_NOT_RESUMABLE") == 0 &&
              strcmp(as_result_name(AS_SNAPSHOT_NOT_FOUND), "AS_SNAPSHOT_NOT_FOUND") == 0,
          "their names");

    /* as_result is a signed 32-bit type: comparing a result with a negative number means what
       it says, and compiles cleanly under -Wsign-compare -Wtype-limits -Werror (an unsigned
       enum, as GCC makes a C enum without negative values, would warn here). */
    {
        _Static_assert((as_result)-1 < 0, "as_result is a signed type");
        _Static_assert(sizeof(as_result) == 4, "as_result is 32 bits");
        as_result rc = as_manager_open(NULL, NULL);
        CHECK(rc == AS_NULL_ARGUMENT, "a NULL out-parameter gives AS_NULL_ARGUMENT");
        CHECK(!(rc < 0) && rc != -1, "no error code is negative");
        CHECK(as_manager_open(NULL, NULL) != -1, "a result compares with -1");
    }

    CHECK(strcmp(as_state_name(AS_STATE_STARTING), "starting") == 0, "starting");
    CHECK(strcmp(as_state_name(AS_STATE_RUNNING), "running") == 0, "running");
    CHECK(strcmp(as_state_name(AS_STATE_WAITING_INPUT), "waiting_input") == 0, "waiting_input");
    CHECK(strcmp(as_state_name(AS_STATE_STOPPING), "stopping") == 0, "stopping");
    CHECK(strcmp(as_state_name(AS_STATE_STOPPED), "stopped") == 0, "stopped");
    CHECK(strcmp(as_state_name(AS_STATE_FAILED), "failed") == 0, "failed");
    CHECK(strcmp(as_state_name(AS_STATE_UNKNOWN), "unknown") == 0, "unknown");

    OK(as_agents(&agents));
    CHECK(agents != NULL && strstr(agents, "\"name\":\"custom\"") != NULL &&
              strstr(agents, "\"name\":\"claude\"") != NULL,
          "as_agents lists the types");
    as_string_free(agents);

    CHECK(as_last_error_message() != NULL, "as_last_error_message is never NULL");
    return finish("test_version");
}
