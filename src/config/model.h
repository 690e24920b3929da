// The configuration model built from a workers.properties file: every lb
// worker with its members and every ajp13/ajp14 worker of worker.list, with
// every attribute mod_jk's load balancer and AJP workers use, and mod_jk's
// defaults written into the declarations.
//
// Plain values only: the model is built once at configuration time and read
// (never written) afterwards, so it is safe to share between threads and,
// after fork(), between nginx worker processes.
#ifndef STICKY_MODEL_H
#define STICKY_MODEL_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sticky {

// Where something was read: file name and 1-based line (0: not from a line,
// e.g. a built-in default).
struct SourceLocation {
  std::string file;
  unsigned line = 0;
};

enum class Severity { kNotice, kWarning, kError };

// One message about the file. `key` is the property key concerned (may be
// empty); `message` says what is wrong, in nginx's voice (lowercase, quoted
// values), without the location, which the caller adds.
struct Diagnostic {
  Severity severity = Severity::kError;
  SourceLocation where;
  std::string key;
  std::string message;
};

// mod_jk's load methods (`method=`, first letter or digit 0-4).
enum class Method { kRequest, kTraffic, kBusyness, kSession, kNext };
// `lock=`: Optimistic or Pessimistic.
enum class Lock { kOptimistic, kPessimistic };
// `activation=`: Active, Disabled (own sessions only), Stopped (nothing).
enum class Activation { kActive, kDisabled, kStopped };

// A member of an lb worker (an ajp13/ajp14 worker listed in balance_workers).
struct Member {
  std::string name;           // the worker name, "n1" of worker.n1.*
  std::string type = "ajp13"; // ajp13 or ajp14
  std::string host = "localhost";
  int port = 8009;
  int lbfactor = 1;           // values below 1 become 1
  std::string route;          // defaults to `name`; must equal Tomcat's jvmRoute
  std::string domain;         // defaults to the part of a dotted route before its first '.'
  std::string redirect;       // the *route* of the preferred failover member
  int distance = 0;           // lower is strictly preferred
  Activation activation = Activation::kActive;
  std::vector<int> fail_on_status;  // positive: member to ERR; negative: fail over only
  // Timeouts, as mod_jk reads them (units as in mod_jk: ms unless noted).
  // jk_ajp_common.c ajp_init: with ping_mode C (P), a connect_timeout
  // (prepost_timeout) of 0 becomes ping_timeout.
  int connect_timeout = 0;          // ms: CPing after connecting; <= 0: none
  int prepost_timeout = 0;          // ms: CPing before each request; <= 0: none
  int ping_timeout = 10000;         // ms: CPong wait
  std::string ping_mode;            // as written: C connect, P prepost, I interval, A all
  int socket_timeout = 0;           // seconds
  int socket_connect_timeout = 0;   // ms; defaults to socket_timeout * 1000
  int reply_timeout = 0;            // ms
  int retries = 2;                  // ajp-level tries on this member
  int retry_interval = 100;         // ms between those tries
  int recovery_options = 0;
  int busy_limit = 0;               // 0: no limit
  // The AJP/1.3 connection (ajp_pass), as mod_jk reads it.
  std::string secret;               // the worker's own, else its lb's; empty: none
  int max_packet_size = 8192;       // bytes, as mod_jk rounds it: a multiple of 1024, 8192..65536
  int ping_interval = 0;            // s, connection_ping_interval; ping_mode I: ping_timeout / 100
  int pool_size = -1;               // connection_pool_size, else cachesize; -1: not set
                                    // (mod_jk: the web server's threads per process);
                                    // 0 (warned): mod_jk would have no connection
  int pool_minsize = -1;            // connection_pool_minsize; default (pool_size + 1) / 2,
                                    // -1 when pool_size is not set either
  int pool_timeout = 0;             // s, connection_pool_timeout, else cache_timeout; 0: none
  bool socket_keepalive = false;    // SO_KEEPALIVE
  // Attributes accepted and kept, but meaningless to nginx (source,
  // secretkey, socket_buffer, ...): key suffix and value, in file order.
  std::vector<std::pair<std::string, std::string>> unused;
  SourceLocation where;             // first line that defined this worker
};

// A `type=lb` worker and its members, in balance_workers order; or (single)
// one ajp13/ajp14 worker of worker.list made a balancer of its own: its one
// member is that worker, everything else is at mod_jk's lb defaults.
struct Balancer {
  std::string name;
  std::vector<Member> members;
  bool single = false;             // made from one ajp13/ajp14 worker, not type=lb
  bool sticky_session = true;
  bool sticky_session_force = false;
  Method method = Method::kRequest;
  Lock lock = Lock::kOptimistic;
  int retries = 2;                 // values below 1 become 1
  int lb_retries = 2;
  int retry_interval = 100;        // ms
  int recover_time = 60;           // s, minimum 1
  int error_escalation_time = 30;  // s, default recover_time / 2
  int max_reply_timeouts = 0;
  std::string session_cookie = "JSESSIONID";
  std::string session_path = ";jsessionid";
  bool set_session_cookie = false;
  std::string session_cookie_path = "/";
  std::vector<std::pair<std::string, std::string>> unused;
  SourceLocation where;
};

// Any other defined worker (e.g. type=status, or an ajp13 worker that no lb
// lists, whether or not worker.list makes it one of `singles`): kept so that
// tools can report it.
struct OtherWorker {
  std::string name;
  std::string type;
  SourceLocation where;
  bool defined = true;  // false: only named by worker.list (mod_jk's localhost:8009)
};

// The whole file as mod_jk understands it.
struct Config {
  std::string file;                      // the name LoadConfig was given, for messages
  std::vector<std::string> worker_list;  // worker.list; mod_jk's default is "ajp13"
  int maintain = 60;                     // worker.maintain, seconds; 0 = off
  std::vector<Balancer> balancers;       // type=lb workers, in order of first definition
  // Every defined ajp13/ajp14 worker of worker.list as a one-member balancer
  // (Balancer::single), in worker.list order: what an upstream gets when it
  // names such a worker, or by default when there is no lb worker to use.
  std::vector<Balancer> singles;
  std::vector<OtherWorker> others;
  std::vector<Diagnostic> diagnostics;   // notices, warnings and errors, in file order

  bool ok() const {
    for (const auto& d : diagnostics)
      if (d.severity == Severity::kError) return false;
    return true;
  }
};

}  // namespace sticky

#endif  // STICKY_MODEL_H
