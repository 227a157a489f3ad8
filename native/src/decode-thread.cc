#include "decode-thread.h"

#include <pthread.h>

namespace vlmkit {

struct DecodeThread::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> queue;
  bool stopping = false;
  Napi::ThreadSafeFunction tsfn;
  napi_env env = nullptr;
  /** Set by the thread-safe function's finalizer (env teardown): it must not be released again. */
  std::atomic<bool> finalized{false};
  /** Jobs posted and not yet settled; the tsfn keeps the loop alive while this is > 0. JS thread only. */
  size_t outstanding = 0;
};

namespace {

void Settle(Napi::Env env, DecodeThread::Job* job, bool ran) {
  job->settle(env, ran);
  delete job;
}

}  // namespace

DecodeThread::DecodeThread(Napi::Env env) : shared_(std::make_shared<Shared>()) {
  auto* finalized = new std::shared_ptr<Shared>(shared_);
  shared_->tsfn = Napi::ThreadSafeFunction::New(
      env, Napi::Function(), "vlmkit.decode", 0, 1, finalized, [](Napi::Env, std::shared_ptr<Shared>* s) {
        (*s)->finalized = true;
        delete s;
      });
  shared_->env = env;
  shared_->tsfn.Unref(env);  // referenced only while a job is outstanding
  thread_ = std::thread([this] { Loop(); });
  // Named so that tools (top -H, /proc/<pid>/task/*/comm) and the tests can see one per context.
  pthread_setname_np(thread_.native_handle(), "vlmkit-decode");
}

DecodeThread::~DecodeThread() { Stop(); }

void DecodeThread::Post(Napi::Env env, Job job) {
  Shared& s = *shared_;
  if (stopped_ || s.finalized) {
    job.settle(env, false);
    return;
  }
  if (s.outstanding++ == 0) s.tsfn.Ref(env);
  // settle decrements `outstanding` on the JS thread, then unrefs when it reaches 0.
  auto shared = shared_;
  auto inner = std::move(job.settle);
  job.settle = [shared, inner = std::move(inner)](Napi::Env env, bool ran) {
    if (--shared->outstanding == 0 && env != nullptr && !shared->finalized) shared->tsfn.Unref(env);
    inner(env, ran);
  };
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.queue.push_back(std::move(job));
  }
  s.wake.notify_one();
}

void DecodeThread::Loop() {
  Shared& s = *shared_;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.wake.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
      if (s.queue.empty()) return;  // stopping, nothing left to run
      if (s.stopping) return;       // queued jobs are settled as not run by Stop()
      job = std::move(s.queue.front());
      s.queue.pop_front();
    }
    job.run();
    auto* done = new Job(std::move(job));
    const napi_status status = s.tsfn.NonBlockingCall(done, [](Napi::Env env, Napi::Function, Job* j) {
      Settle(env, j, true);  // env is null when the environment is shutting down
    });
    // The environment is gone: nobody is left to settle the job. It is left allocated on purpose: its
    // settle holds the context, whose destructor joins this very thread.
    if (status != napi_ok) return;
  }
}

void DecodeThread::Stop() {
  if (stopped_) return;
  stopped_ = true;
  Shared& s = *shared_;
  std::deque<Job> left;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.stopping = true;
    left.swap(s.queue);
  }
  s.wake.notify_one();
  if (thread_.joinable()) thread_.join();  // waits for the running job's llama_decode, never for JS
  const bool live = !s.finalized;
  for (Job& job : left) job.settle(Napi::Env(live ? s.env : nullptr), false);
  if (live) s.tsfn.Release();
}

}  // namespace vlmkit
