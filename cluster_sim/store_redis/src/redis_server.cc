#include "cluster_sim/redis_server.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace cluster_sim {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

Result<std::unique_ptr<RedisServer>> RedisServer::Launch(std::vector<std::string> extra_args) {
  auto many = LaunchMany(1, std::move(extra_args));
  if (!many.ok()) return many.status();
  return std::move(many.value()[0]);
}

Result<std::vector<std::unique_ptr<RedisServer>>> RedisServer::LaunchMany(
    size_t n, const std::vector<std::string>& extra_args) {
  std::vector<std::unique_ptr<RedisServer>> servers;
  for (size_t i = 0; i < n; ++i) {
    auto s = Prepare(extra_args);
    if (!s.ok()) return s.status();
    servers.push_back(std::move(s).value());
    servers.back()->port_ = FreeLoopbackPort();
    if (servers.back()->port_ == 0) return Status::Unavailable("no free loopback port");
    if (Status st = servers.back()->Spawn(); !st.ok()) return st;
  }
  // All start at once; each is then waited for, and one that lost its port to another
  // process tries again on a new one (four more times).
  for (auto& s : servers) {
    Status st = s->AwaitReady();
    for (int attempt = 1; !st.ok() && attempt < 5; ++attempt) {
      s->port_ = FreeLoopbackPort();
      if (s->port_ == 0) return Status::Unavailable("no free loopback port");
      st = s->Start();
    }
    if (!st.ok()) return st;
  }
  return servers;
}

Result<std::unique_ptr<RedisServer>> RedisServer::Prepare(
    const std::vector<std::string>& extra_args) {
  std::unique_ptr<RedisServer> s(new RedisServer());
  // On tmpfs when there is one: `appendfsync always` then costs no disk flush, and a
  // kill -9 of the server still loses nothing (the AOF is written before the reply).
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path();
  if (const char* dir = std::getenv("AASIM_REDIS_DIR"); dir != nullptr && *dir != 0) {
    base = dir;
  } else if (std::filesystem::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0) {
    base = "/dev/shm";
  }
  std::string tmpl = (base / "aasim-redis-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status::Unavailable("cannot create a temporary directory for redis-server");
  }
  s->dir_ = tmpl;
  s->extra_args_ = extra_args;
  return s;
}

std::vector<std::string> RedisServer::Args() const {
  std::vector<std::string> a = {"redis-server",
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--dir",
                                dir_,
                                "--appendonly",
                                "yes",
                                "--appendfsync",
                                "always",
                                "--save",
                                "",
                                "--daemonize",
                                "no",
                                "--logfile",
                                dir_ + "/redis.log",
                                "--hash-max-listpack-entries",
                                "512",
                                "--hash-max-listpack-value",
                                "256"};
  a.insert(a.end(), extra_args_.begin(), extra_args_.end());
  return a;
}

Status RedisServer::Start() {
  if (running()) return Status::Ok();
  if (Status st = Spawn(); !st.ok()) return st;
  return AwaitReady();
}

Status RedisServer::Spawn() {
  std::vector<std::string> args = Args();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Its output goes to its log file; no inherited descriptor keeps a caller's pipe open
  // (ctest waits for those) when the server outlives aasim (--keep-redis).
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "redis-server", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return Status::Unavailable("cannot start redis-server (is it in PATH?)");
  }
  pid_ = pid;
  return Status::Ok();
}

Status RedisServer::AwaitReady() {
  // Up to 10 s (an AOF replay); asked often at first, since a fresh server is up in a few
  // milliseconds and aasim starts one per region.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto pause = std::chrono::milliseconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("redis-server exited at start (port " + std::to_string(port_) +
                                 "; see " + dir_ + "/redis.log)");
    }
    timeval tv{0, 200000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err == 0) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
      // PONG, or NOAUTH from a server started with --requirepass: it is up.
      bool ok = r != nullptr && (r->type == REDIS_REPLY_STATUS ||
                                 (r->type == REDIS_REPLY_ERROR &&
                                  std::string_view(r->str, r->len).substr(0, 6) == "NOAUTH"));
      if (r != nullptr) freeReplyObject(r);
      redisFree(c);
      if (ok) return Status::Ok();
    } else if (c != nullptr) {
      redisFree(c);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  Kill();
  return Status::Unavailable("redis-server on port " + std::to_string(port_) +
                             " did not answer PING");
}

void RedisServer::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::AskShutdown() {
  // The SHUTDOWN command runs at once; a SIGTERM only sets a flag that the server's cron
  // reads up to 1/hz (100 ms) later, which made stopping a run's servers cost more wall
  // time than an in-memory run of a whole scenario. The command is answered by the
  // connection closing as the server exits; any reply (NOAUTH from a server started with
  // --requirepass, an AOF error) or silence falls back to SIGTERM.
  timeval tv{0, 200000};
  bool asked = false;
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c != nullptr && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "SHUTDOWN"));
    if (r == nullptr) {
      asked = c->err == REDIS_ERR_EOF;  // closed by the exiting server
    } else {
      freeReplyObject(r);
    }
  }
  if (c != nullptr) redisFree(c);
  if (!asked) kill(pid_, SIGTERM);
}

void RedisServer::RequestStop() {
  if (running() && !detached_) AskShutdown();
}

void RedisServer::Stop() {
  if (!running()) return;
  AskShutdown();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto pause = std::chrono::milliseconds(1);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(25));
  }
  Kill();
}

void RedisServer::Detach() { detached_ = true; }

RedisServer::~RedisServer() {
  if (detached_) return;
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace cluster_sim
