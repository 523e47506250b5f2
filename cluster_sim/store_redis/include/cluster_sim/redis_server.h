// RedisServer: a redis-server process that aasim starts for one region, on a free loopback
// port, in a temporary directory of its own ($AASIM_REDIS_DIR, else /dev/shm if writable,
// else $TMPDIR or /tmp), with the append-only file on and fsynced at
// every write (`appendfsync always`: an acknowledged write survives kill -9), and small
// hashes kept compact (`hash-max-listpack-entries 512`, `hash-max-listpack-value 256`; the
// metadata buckets of redis_store.h).
//
// The destructor stops the server and removes its directory, unless Detach() was called
// (`aasim run --keep-redis`). Kill() and Start() after it model a crash and a restart
// from the AOF. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "cluster_sim/status.h"

namespace cluster_sim {

class RedisServer {
 public:
  // Starts redis-server (found in PATH) and waits until it answers PING.
  static Result<std::unique_ptr<RedisServer>> Launch(std::vector<std::string> extra_args = {});
  // Starts n of them at once (each on its own port and directory), then waits for each.
  static Result<std::vector<std::unique_ptr<RedisServer>>> LaunchMany(
      size_t n, const std::vector<std::string>& extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  void Kill();     // SIGKILL, no shutdown: what the AOF holds is what survives
  Status Start();  // (re)starts on the same port and directory, replaying the AOF
  void Stop();     // SHUTDOWN (the command; SIGTERM if it is refused) and wait
  // SHUTDOWN without waiting for the process to end (unless detached), so several servers
  // shut down in parallel; Stop() or the destructor then waits.
  void RequestStop();
  void Detach();  // leave it running after this object dies

 private:
  RedisServer() = default;
  // A server not yet started: its directory made, no port.
  static Result<std::unique_ptr<RedisServer>> Prepare(const std::vector<std::string>& extra_args);
  std::vector<std::string> Args() const;
  Status Spawn();       // starts the process on port_
  Status AwaitReady();  // until it answers PING (it may have exited: port taken)
  void AskShutdown();   // the SHUTDOWN command, else SIGTERM; does not wait for the exit

  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
  bool detached_ = false;
  std::vector<std::string> extra_args_;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
int FreeLoopbackPort();

}  // namespace cluster_sim
