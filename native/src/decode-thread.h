// One long-lived native thread per context that runs every llama_decode of that context, in order.
//
// An AsyncWorker runs on whichever libuv worker is free, so llama.cpp's compute would start from a
// different thread from one token to the next (cold caches, a new CPU, and for ggml's CPU backend a
// new set of worker threads per graph). Here a context's decodes all start from one thread, and the
// result comes back to JS through a thread-safe function.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace vlmkit {

class DecodeThread {
 public:
  /**
   * A job: `run` executes on the decode thread; then `settle` runs on the JS thread with the env, or
   * with a null env when the job never ran (the thread stopped first) or the env is shutting down.
   */
  struct Job {
    std::function<void()> run;
    std::function<void(Napi::Env env, bool ran)> settle;
  };

  /** Starts the thread. Called on the JS thread. */
  explicit DecodeThread(Napi::Env env);
  /** Stop() if it has not been called. */
  ~DecodeThread();
  DecodeThread(const DecodeThread&) = delete;
  DecodeThread& operator=(const DecodeThread&) = delete;

  /**
   * Queues a job (JS thread only). While jobs are queued or running, the event loop stays alive.
   * After Stop(), the job is settled at once as not run.
   */
  void Post(Napi::Env env, Job job);

  /**
   * Finishes the running job, settles the queued ones as not run, and joins the thread (JS thread
   * only). Never blocks on the JS thread's own event loop: settle calls already handed to it still
   * run later.
   */
  void Stop();

 private:
  struct Shared;  // what the thread-safe function's callbacks may still touch after Stop()
  void Loop();

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace vlmkit
