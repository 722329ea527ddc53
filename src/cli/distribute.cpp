// MPI ranks sharing a run's units (distribute.hpp). Only each process's main thread calls MPI
// (MPI_THREAD_FUNNELED); units are computed on a second thread so that the main thread keeps
// answering (rank 0 hands out work and collects results; the others hear a stop at once).
#include "distribute.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "rnnlyap/errors.hpp"

#ifdef RNNLYAP_WITH_MPI
#include <mpi.h>
#endif

namespace rnnlyap::cli {
namespace {

// The launcher's count of processes, when a launcher started this one (Open MPI, PMIx, PMI as
// srun and MPICH's hydra set them).
int launched_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (const char* s = std::getenv(v)) return std::max(1, std::atoi(s));
  return std::getenv("PMIX_RANK") ? 2 : 1;  // PMIx without a size: ask MPI
}

// One computation on a thread of its own, watched from the main thread.
class Computation {
 public:
  void start(const UnitPlan& plan, std::size_t first, std::size_t count,
             std::function<bool()> stop) {
    cancel_ = false;
    finished_ = false;
    lines_.clear();
    error_ = nullptr;
    first_ = first;
    count_ = count;
    thread_ = std::thread([this, plan, first, count, stop] {
      try {
        RunControl c;
        c.stop_requested = [this, stop] { return cancel_.load() || (stop && stop()); };
        std::vector<std::string> lines = plan.compute(first, count, {}, c);
        std::lock_guard<std::mutex> lock(mutex_);
        lines_ = std::move(lines);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
      }
      finished_ = true;
    });
  }
  bool running() const { return thread_.joinable(); }
  bool finished() const { return finished_.load(); }
  void cancel() { cancel_ = true; }
  // After finished(): the lines, or the exception rethrown.
  std::vector<std::string> take() {
    thread_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    return std::move(lines_);
  }
  // Stops and waits, discarding the outcome.
  void abandon() {
    if (!running()) return;
    cancel_ = true;
    thread_.join();
  }
  std::size_t first() const { return first_; }
  std::size_t count() const { return count_; }
  ~Computation() { abandon(); }

 private:
  std::thread thread_;
  std::atomic<bool> cancel_{false}, finished_{false};
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::exception_ptr error_;
  std::size_t first_ = 0, count_ = 0;
};

// Runs of consecutive missing units within one point, handed out in order, shorter towards the
// end so that the last ones finish together (guided self-scheduling).
class Dealer {
 public:
  Dealer(const UnitPlan& plan, const std::vector<std::size_t>& todo, int ranks)
      : runs_(plan.runs(todo)), left_(todo.size()), ranks_(static_cast<std::size_t>(ranks)) {}
  std::optional<std::pair<std::size_t, std::size_t>> next() {
    if (at_ == runs_.size()) return std::nullopt;
    const std::size_t want = std::max<std::size_t>(1, (left_ + 2 * ranks_ - 1) / (2 * ranks_));
    const auto [first, count] = runs_[at_];
    const std::size_t take = std::min(want, count - offset_);
    const std::pair<std::size_t, std::size_t> chunk{first + offset_, take};
    offset_ += take;
    left_ -= take;
    if (offset_ == count) {
      ++at_;
      offset_ = 0;
    }
    return chunk;
  }

 private:
  std::vector<std::pair<std::size_t, std::size_t>> runs_;
  std::size_t left_, ranks_, at_ = 0, offset_ = 0;
};

std::string stopped_message(const UnitStore& store, const std::string& name, const char* why) {
  std::ostringstream m;
  m << why << ": " << store.done() << " of " << store.plan().size() << " units finished";
  if (!name.empty() && store.done() > 0)
    m << " and kept in " << name << "; run the same command again to continue";
  return m.str();
}

// One process computes everything (no MPI, or one rank): runs of consecutive units, one point
// at a time.
void run_alone(const UnitPlan& plan, UnitStore& store, const std::vector<std::size_t>& missing,
               const std::string& name,
               const std::function<void(std::size_t, std::size_t, const std::string&)>& progress,
               const std::function<bool()>& stop_requested) {
  RunControl control;
  control.stop_requested = stop_requested;
  for (const auto& [first, count] : plan.runs(missing)) {
    if (stop_requested && stop_requested())
      throw Interrupted(stopped_message(store, name, "interrupted"));
    if (progress) progress(store.done(), plan.size(), plan.label(first));
    try {
      for (const std::string& line : plan.compute(first, count, {}, control)) store.add(line);
    } catch (const Interrupted&) {
      throw Interrupted(stopped_message(store, name, "interrupted"));
    }
  }
  if (progress) progress(store.done(), plan.size(), "done");
}

#ifdef RNNLYAP_WITH_MPI

// What an exception says, for a message to rank 0.
std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const Interrupted&) {
    return "I";
  } catch (const std::exception& x) {
    return std::string("E") + x.what();
  } catch (...) {
    return "Eunknown error";
  }
}

void pause() {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

enum Tag : int { kReady = 1, kWork, kResult, kFailed, kStop, kBye };

void send_text(const std::string& s, int to, int tag) {
  MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, to, tag, MPI_COMM_WORLD);
}
std::string recv_text(const MPI_Status& probed) {
  int n = 0;
  MPI_Get_count(&probed, MPI_CHAR, &n);
  std::string s(static_cast<std::size_t>(n), '\0');
  MPI_Recv(s.data(), n, MPI_CHAR, probed.MPI_SOURCE, probed.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return s;
}
void send_work(int to, std::size_t first, std::size_t count) {
  const std::int64_t w[2] = {static_cast<std::int64_t>(first), static_cast<std::int64_t>(count)};
  MPI_Send(w, 2, MPI_INT64_T, to, kWork, MPI_COMM_WORLD);
}

// A rank's finished computation, sent to rank 0: its lines, or what went wrong (then rank 0's
// stop follows). Nothing when the computation is not finished.
enum class Sent { nothing, lines, failure };
Sent send_finished(Computation& job, bool& stopped_here) {
  if (!job.running() || !job.finished()) return Sent::nothing;
  std::vector<std::string> lines;
  try {
    lines = job.take();
  } catch (...) {
    const std::string what = describe(std::current_exception());
    stopped_here = stopped_here || what == "I";
    send_text(what, 0, kFailed);  // then wait for rank 0's stop
    return Sent::failure;
  }
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  send_text(all, 0, kResult);
  return Sent::lines;
}

// A message from rank 0: work to start (false: there is no more), or the stop (throws QuietExit
// with the job's exit status).
bool take_message(const MPI_Status& st, Computation& job, const UnitPlan& plan,
                  const std::function<bool()>& stop_requested, bool stopped_here) {
  if (st.MPI_TAG == kWork) {
    std::int64_t w[2];
    MPI_Recv(w, 2, MPI_INT64_T, 0, kWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (w[1] == 0) return false;  // no more work
    job.start(plan, static_cast<std::size_t>(w[0]), static_cast<std::size_t>(w[1]), stop_requested);
  } else if (st.MPI_TAG == kStop) {
    int status = 1;  // rank 0's: 130 when the job was interrupted, 1 when a unit failed
    MPI_Recv(&status, 1, MPI_INT, 0, kStop, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    job.abandon();
    MPI_Send(nullptr, 0, MPI_CHAR, 0, kBye, MPI_COMM_WORLD);
    throw QuietExit{stopped_here ? 130 : status};
  } else {
    recv_text(st);  // nothing else is sent to a worker
  }
  return true;
}

// Ranks 1 …: ask for work, compute it, send the lines; stop when told.
void work(const UnitPlan& plan, const std::function<bool()>& stop_requested) {
  Computation job;
  MPI_Send(nullptr, 0, MPI_CHAR, 0, kReady, MPI_COMM_WORLD);
  bool stopped_here = false;
  for (;;) {
    const Sent sent = send_finished(job, stopped_here);
    if (sent == Sent::failure) continue;
    bool idle = sent == Sent::nothing;
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (flag) {
      idle = false;
      if (!take_message(st, job, plan, stop_requested, stopped_here)) return;
    }
    // A stop request here (a signal) reaches the computation through its stop test; without one
    // running, rank 0 is told at once.
    if (!job.running() && stop_requested && stop_requested() && !stopped_here) {
      stopped_here = true;
      send_text("I", 0, kFailed);
    }
    if (idle) pause();
  }
}

// Rank 0: deals work to every rank (itself included, on its computation thread), keeps what comes
// back, and stops every rank first when anything goes wrong (none is left waiting for work).
class Leader {
 public:
  using Progress = std::function<void(std::size_t, std::size_t, const std::string&)>;
  Leader(const Ranks& ranks, const UnitPlan& plan, UnitStore& store,
         const std::vector<std::size_t>& todo, const std::string& name, const Progress& progress,
         const std::function<bool()>& stop_requested)
      : ranks_(ranks),
        plan_(plan),
        store_(store),
        todo_(todo),
        name_(name),
        progress_(progress),
        stop_requested_(stop_requested),
        dealer_(plan, todo, ranks.size),
        finished_(static_cast<std::size_t>(ranks.size), 0) {}

  void run() {
    // Whatever goes wrong here (a line that is not this run's, a failed write) stops every rank
    // first: none is left waiting for work.
    try {
      give(0);
      while (!all_done()) {
        if (stop_requested_ && stop_requested_()) {
          // Said at once: a launcher that stops the job (a rank died, a time limit) may kill this
          // process soon after.
          std::fprintf(stderr, "rnnlyap: %s\n",
                       stopped_message(store_, name_, "interrupted").c_str());
          std::fflush(stderr);
          stop_all(std::make_exception_ptr(QuietExit{130}));
        }
        const bool own = take_own();
        const bool message = answer();
        if (!own && !message) pause();
      }
    } catch (...) {
      if (stopping_) throw;
      stop_all(std::current_exception());
    }
  }

 private:
  // Every unit to do is kept and every rank (this one's computation too) has finished.
  bool all_done() const {
    bool all_done = true;
    for (std::size_t u : todo_) all_done = all_done && store_.has(u);
    bool everyone = own_finished_ || !own_.running();
    for (int r = 1; r < ranks_.size; ++r)
      everyone = everyone && finished_[static_cast<std::size_t>(r)];
    return all_done && everyone;
  }

  // The next chunk to rank `r` (0: this rank's computation), or "no more work".
  void give(int r) {
    const auto chunk = dealer_.next();
    if (r == 0) {
      if (chunk) {
        own_.start(plan_, chunk->first, chunk->second, stop_requested_);
        last_label_ = plan_.label(chunk->first);
      } else {
        own_finished_ = true;
      }
      return;
    }
    if (chunk) {
      send_work(r, chunk->first, chunk->second);
      last_label_ = plan_.label(chunk->first);
    } else {
      send_work(r, 0, 0);
      finished_[static_cast<std::size_t>(r)] = 1;
    }
  }

  void keep(const std::string& lines) {
    std::istringstream in(lines);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) store_.add(line);
    if (progress_) progress_(store_.done(), plan_.size(), last_label_);
  }

  // This rank's computation, when it finished: its lines kept and the next chunk started.
  bool take_own() {
    if (!own_.running() || !own_.finished()) return false;
    std::vector<std::string> lines;
    try {
      lines = own_.take();
    } catch (const Interrupted&) {
      stop_all(std::make_exception_ptr(Interrupted(stopped_message(store_, name_, "interrupted"))));
    } catch (const std::exception& x) {
      stop_all(
          std::make_exception_ptr(Error("rank 0: " + std::string(x.what()) + " (" +
                                        stopped_message(store_, name_, "the job stopped") + ")")));
    }
    std::string all;
    for (const std::string& l : lines) all += l + "\n";
    keep(all);
    give(0);
    return true;
  }

  // One message from another rank, if there is one.
  bool answer() {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (!flag) return false;
    const int r = st.MPI_SOURCE;
    if (st.MPI_TAG == kReady) {
      MPI_Recv(nullptr, 0, MPI_CHAR, r, kReady, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      give(r);
    } else if (st.MPI_TAG == kResult) {
      keep(recv_text(st));
      give(r);
    } else if (st.MPI_TAG == kFailed) {
      failed(r, recv_text(st));
    } else {
      recv_text(st);
    }
    return true;
  }

  // Rank `r` was stopped ("I") or its unit failed ("E" and why): the job stops.
  [[noreturn]] void failed(int r, const std::string& what) {
    if (what == "I")
      stop_all(std::make_exception_ptr(Interrupted(
          stopped_message(store_, name_, ("rank " + std::to_string(r) + " was stopped").c_str()))));
    stop_all(
        std::make_exception_ptr(Error("rank " + std::to_string(r) + ": " + what.substr(1) + " (" +
                                      stopped_message(store_, name_, "the job stopped") + ")")));
  }

  // Stops every rank still working, keeps what they send meanwhile, and throws `e`.
  [[noreturn]] void stop_all(const std::exception_ptr& e) {
    stopping_ = true;
    own_.abandon();
    int status = 1;  // the exit status the other ranks take
    try {
      std::rethrow_exception(e);
    } catch (const Interrupted&) {
      status = 130;
    } catch (const QuietExit& q) {
      status = q.status;
    } catch (...) {
    }
    int waiting = 0;
    for (int r = 1; r < ranks_.size; ++r)
      if (!finished_[static_cast<std::size_t>(r)]) {
        MPI_Send(&status, 1, MPI_INT, r, kStop, MPI_COMM_WORLD);
        ++waiting;
      }
    wait_for_byes(waiting);
    std::rethrow_exception(e);
  }

  // The `waiting` ranks told to stop answer (what they finished meanwhile is kept); one that never
  // answers ends the job.
  void wait_for_byes(int waiting) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (waiting > 0 && std::chrono::steady_clock::now() < until) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      if (!flag) {
        pause();
        continue;
      }
      if (st.MPI_TAG == kBye) {
        MPI_Recv(nullptr, 0, MPI_CHAR, st.MPI_SOURCE, kBye, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        --waiting;
      } else if (st.MPI_TAG == kWork) {
        std::int64_t w[2];
        MPI_Recv(w, 2, MPI_INT64_T, st.MPI_SOURCE, kWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else {
        const std::string text = recv_text(st);
        if (st.MPI_TAG == kResult) keep(text);  // finished just before the stop: kept
      }
    }
    if (waiting > 0) MPI_Abort(MPI_COMM_WORLD, 1);  // a rank that never answers: end the job
  }

  const Ranks& ranks_;
  const UnitPlan& plan_;
  UnitStore& store_;
  const std::vector<std::size_t>& todo_;
  const std::string& name_;
  const Progress& progress_;
  const std::function<bool()>& stop_requested_;
  Dealer dealer_;
  std::vector<char> finished_;  // the ranks told there is no more work
  Computation own_;
  bool own_finished_ = false;
  bool stopping_ = false;
  std::string last_label_;
};

#endif  // RNNLYAP_WITH_MPI

}  // namespace

std::string mpi_library() {
#ifdef RNNLYAP_WITH_MPI
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string v(text, static_cast<std::size_t>(std::max(0, len)));
  v = v.substr(0, v.find_first_of("\n,"));
  return v.empty() ? "MPI" : v;
#else
  return {};
#endif
}

// Whether the command line asks for one network over a grid of ranks (which needs MPI started
// even for a grid of one rank).
bool distributes_network(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]).rfind("--distribute-network", 0) == 0) return true;
  return false;
}

Ranks start_ranks(int& argc, char**& argv) {
  Ranks r;
  const int launched = launched_size();
  const bool launcher = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") ||
                        std::getenv("PMI_SIZE") || std::getenv("PMIX_SIZE");
  // One process, whoever started it; a launcher's single rank starts MPI for a grid of 1 x 1.
  if (launched <= 1 && !(launcher && distributes_network(argc, argv))) return r;
#ifdef RNNLYAP_WITH_MPI
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  r.mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &r.size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, r.rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &r.local_rank);
  MPI_Comm_size(node, &r.local_size);
  MPI_Comm_free(&node);
  return r;
#else
  (void)argc;
  (void)argv;
  throw InvalidInput(
      "started by an MPI launcher as one of " + std::to_string(launched) +
      " processes, but this rnnlyap was built without MPI (each process would compute the whole "
      "run): rebuild with MPI (Debian: apt-get install libopenmpi-dev), or use --shard I/N");
#endif
}

void end_ranks(const Ranks& r) {
#ifdef RNNLYAP_WITH_MPI
  if (r.mpi) MPI_Finalize();
#else
  (void)r;
#endif
}

Agreement all_ranks_ok(const Ranks& r, bool ok) {
#ifdef RNNLYAP_WITH_MPI
  if (!r.mpi || r.size == 1) return {ok, ok};
  int mine = ok ? 1 : 0, all = 0, zero = mine;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Bcast(&zero, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return {all == 1, zero == 1};
#else
  (void)r;
  return {ok, ok};
#endif
}

bool all_ranks_failed(const Ranks& r, double seconds) {
#ifdef RNNLYAP_WITH_MPI
  if (!r.mpi || r.size == 1) return true;
  MPI_Request barrier;
  MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int done = 0;
  while (std::chrono::steady_clock::now() < until) {
    MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
    if (done) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;  // the request is left: the job is about to be aborted
#else
  (void)r;
  (void)seconds;
  return true;
#endif
}

void abort_ranks(const Ranks& r, int status) {
#ifdef RNNLYAP_WITH_MPI
  std::fflush(stderr);
  if (r.mpi && r.size > 1) MPI_Abort(MPI_COMM_WORLD, status);
#else
  (void)r;
#endif
  std::exit(status);
}

int rank_threads(const Ranks& r) {
  // The cores this rank is bound to (srun --cpus-per-task, mpirun's binding), else its share.
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  const int bound = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
  return bound > 0 && bound < cores ? bound : std::max(1, cores / std::max(1, r.local_size));
}

void run_units(const Ranks& ranks, const UnitPlan& plan, UnitStore* store,
               const std::vector<std::size_t>& todo, const std::string& store_name,
               const std::function<void(std::size_t, std::size_t, const std::string&)>& progress,
               const std::function<bool()>& stop_requested) {
  if (ranks.size <= 1) {
    run_alone(plan, *store, todo, store_name, progress, stop_requested);
    return;
  }
#ifdef RNNLYAP_WITH_MPI
  if (ranks.rank == 0)
    Leader(ranks, plan, *store, todo, store_name, progress, stop_requested).run();
  else
    work(plan, stop_requested);
#else
  (void)store_name;
  throw Error("run_units: several ranks without MPI");
#endif
}

}  // namespace rnnlyap::cli
