// The C++ consumer: small RAII wrappers over the C ABI (handles and returned strings freed
// by destructors, failures thrown as exceptions carrying the as_result), driving a real
// session: start, send, read output, follow with a lambda, wait, stop, read the record.

#include <agent_sessions.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

// as_result is a signed 32-bit type, so `rc < 0` and `rc == -1` mean what they say.
static_assert(std::is_signed<std::underlying_type<as_result>::type>::value &&
                  sizeof(as_result) == 4,
              "as_result is a signed 32-bit enum");

namespace as {

class Error : public std::runtime_error {
  public:
    Error(as_result code, const char *message) : std::runtime_error(message), code_(code) {}
    as_result code() const noexcept { return code_; }

  private:
    as_result code_;
};

inline void check(as_result rc) {
    if (rc != AS_OK) throw Error(rc, as_last_error_message());
}

// Owns a char * the library returned.
class String {
  public:
    String() = default;
    ~String() { as_string_free(p_); }
    String(const String &) = delete;
    String &operator=(const String &) = delete;
    char **out() { return &p_; }
    bool null() const { return p_ == nullptr; }
    std::string str() const { return p_ ? std::string(p_) : std::string(); }

  private:
    char *p_ = nullptr;
};

struct SessionDeleter {
    void operator()(as_session *s) const noexcept { as_session_free(s); }
};
struct ManagerDeleter {
    void operator()(as_manager *m) const noexcept { as_manager_free(m); }
};

class Session {
  public:
    explicit Session(as_session *s) : s_(s) {}

    std::string id() const {
        String out;
        check(as_session_id(s_.get(), out.out()));
        return out.str();
    }
    as_state state() const {
        as_state st;
        check(as_session_state(s_.get(), &st));
        return st;
    }
    void send(const std::string &text, bool enter = true) const {
        check(as_session_send(s_.get(), text.c_str(), enter));
    }
    void send_keys(const std::vector<const char *> &keys) const {
        check(as_session_send_keys(s_.get(), keys.data(), keys.size()));
    }
    // Reads output from `offset` and advances it.
    std::string output(std::uint64_t &offset, std::size_t max = 65536) const {
        std::uint8_t *bytes = nullptr;
        std::size_t len = 0;
        std::uint64_t next = 0;
        check(as_session_output(s_.get(), offset, max, &bytes, &len, &next));
        std::unique_ptr<std::uint8_t, void (*)(std::uint8_t *)> owned(bytes, as_bytes_free);
        offset = next;
        return std::string(reinterpret_cast<const char *>(bytes), len);
    }
    // Calls f(chunk) for each chunk until the session ends, f returns false or the timeout.
    template <class F> std::uint64_t follow(std::uint64_t offset, double timeout, F f) const {
        struct Ctx {
            F *f;
        } ctx{&f};
        std::uint64_t next = 0;
        auto cb = [](void *ud, const std::uint8_t *b, std::size_t n, std::uint64_t) -> int {
            Ctx *c = static_cast<Ctx *>(ud);
            return (*c->f)(std::string(reinterpret_cast<const char *>(b), n)) ? 0 : 1;
        };
        check(as_session_output_follow(s_.get(), offset, timeout, cb, &ctx, &next));
        return next;
    }
    std::string wait(const char *state, double timeout) const {
        String out;
        check(as_session_wait(s_.get(), state, timeout, out.out()));
        return out.str();
    }
    // Waits for any of `states` ("ready": {"running", "waiting_input"}).
    std::string wait_any(std::initializer_list<const char *> states, double timeout) const {
        String out;
        check(as_session_wait_any(s_.get(), states.begin(), states.size(), timeout, out.out()));
        return out.str();
    }
    std::string screen() const {
        String out;
        check(as_session_screen(s_.get(), out.out()));
        return out.str();
    }
    std::string stop(double timeout = -1, bool force = false) const {
        String out;
        check(as_session_stop(s_.get(), timeout, force, out.out()));
        return out.str();
    }
    std::string record() const {
        String out;
        check(as_session_record(s_.get(), out.out()));
        return out.str();
    }

  private:
    std::unique_ptr<as_session, SessionDeleter> s_;
};

class Manager {
  public:
    explicit Manager(const char *home = nullptr) {
        as_manager *m = nullptr;
        check(as_manager_open(home, &m));
        m_.reset(m);
    }
    void set_host_binary(const char *path) { check(as_manager_set_host_binary(m_.get(), path)); }
    Session start(const std::string &options_json) const {
        as_session *s = nullptr;
        check(as_manager_start(m_.get(), options_json.c_str(), &s));
        return Session(s);
    }
    std::string list(const char *filter_json = nullptr) const {
        String out;
        check(as_manager_list(m_.get(), filter_json, out.out()));
        return out.str();
    }
    void remove(const std::string &id) const { check(as_manager_remove(m_.get(), id.c_str())); }

  private:
    std::unique_ptr<as_manager, ManagerDeleter> m_;
};

}  // namespace as

static int passed = 0, failed = 0;

static void expect(bool ok, const char *what) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::fprintf(stderr, "FAIL: %s\n", what);
    }
}

static bool has(const std::string &hay, const char *needle) {
    return hay.find(needle) != std::string::npos;
}

int main() {
    const char *base = std::getenv("AS_TEST_TMP");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cpp-XXXXXX";
    std::vector<char> home(tmpl.begin(), tmpl.end());
    home.push_back('\0');
    if (mkdtemp(home.data()) == nullptr) return 2;

    try {
        as::Manager mgr(home.data());
        if (const char *bin = std::getenv("AS_TEST_HOST_BIN")) mgr.set_host_binary(bin);

        as::Session s = mgr.start(
            R"({"agent":"custom","args":["cat"],"task_id":"cpp-1","idle_after_secs":0.3})");
        std::string id = s.id();
        expect(id.rfind("agent-", 0) == 0, "id shape");
        std::string ready = s.wait_any({"running", "waiting_input"}, 20.0);
        expect(has(ready, "\"state\":\"running\"") || has(ready, "\"state\":\"waiting_input\""),
               "wait_any: ready is running or waiting_input");
        expect(as_manager_open(nullptr, nullptr) != -1 && !(as_manager_open(nullptr, nullptr) < 0),
               "no error code is negative");

        s.send("hello from C++");
        std::string seen;
        std::uint64_t offset = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!has(seen, "hello from C++") && std::chrono::steady_clock::now() < deadline) {
            std::string chunk = s.output(offset);
            if (chunk.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
            seen += chunk;
        }
        expect(has(seen, "hello from C++"), "echo read with offset reads");
        expect(offset == seen.size(), "offset advances by what was read");

        std::string rec = s.wait("waiting_input", 20.0);
        expect(has(rec, "\"state\":\"waiting_input\""), "wait gives the record");
        expect(has(s.screen(), "hello from C++"), "screen shows the echo");
        expect(has(mgr.list(R"({"task_id":"cpp-1"})"), id.c_str()), "list by task");

        // Follow with a lambda: the first chunk, then stop.
        std::string first;
        std::uint64_t next = s.follow(0, 5.0, [&](const std::string &chunk) {
            first = chunk;
            return false;
        });
        expect(!first.empty() && next == first.size(), "follow hands chunks to a lambda");

        // Bad input surfaces as an exception with the code.
        try {
            mgr.start("{not json");
            expect(false, "malformed JSON throws");
        } catch (const as::Error &e) {
            expect(e.code() == AS_INVALID_JSON && has(e.what(), "options_json"),
                   "malformed JSON gives AS_INVALID_JSON");
        }

        // Ctrl-D ends cat cleanly: the session ends stopped by itself.
        s.send_keys({"C-d"});
        rec = s.wait("stopped", 20.0);
        expect(has(rec, "\"state\":\"stopped\"") && has(rec, "\"exit_code\":0"),
               "EOF ends the agent with exit code 0");
        rec = s.stop();
        expect(has(rec, "\"state\":\"stopped\""), "stopping an ended session succeeds");
        expect(s.state() == AS_STATE_STOPPED, "state stopped");
        rec = s.record();
        expect(has(rec, ("\"session_id\":\"" + id + "\"").c_str()), "record id");
        expect(has(rec, "\"agent_type\":\"custom\""), "record agent_type");
        expect(has(rec, "\"task_id\":\"cpp-1\""), "record task_id");

        try {
            s.send("late");
            expect(false, "send after the end throws");
        } catch (const as::Error &e) {
            expect(e.code() == AS_SESSION_NOT_RUNNING, "send after the end: not running");
        }
        mgr.remove(id);
        try {
            s.state();
            expect(false, "a removed session throws");
        } catch (const as::Error &e) {
            expect(e.code() == AS_SESSION_NOT_FOUND, "removed: not found");
        }
    } catch (const as::Error &e) {
        std::fprintf(stderr, "FAIL: unexpected %s: %s\n", as_result_name(e.code()), e.what());
        ++failed;
    }
    std::printf("test_cpp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
