/* refnn's own worker threads: one pool per process that runs the pieces of a region of work.
 *
 * A region is a function and a number of pieces, fixed by the work alone (never by the number
 * of threads): piece p always covers the same rows or the same weights, and computes them with
 * the same calls in the same order. The caller of refnn_pool_run takes part as worker 0. Each
 * of the T threads owns a share of the pieces (worker w: pieces w, w + T, w + 2T, ...; the
 * callers list the largest pieces first, so the shares come out about even), takes its own
 * first, in order, then helps with the others' (one atomic counter per share).
 * So on an idle machine a thread works on the same weights step after step, and they stay in
 * its core's cache; a helper that the operating system has pre-empted leaves its share to the
 * threads that are running. Whichever thread runs a piece, it computes the same numbers: the
 * result does not depend on the number of threads, nor on which thread ran what.
 *
 * Idle helpers spin for a few microseconds (the next region of a training step follows at
 * once), then sleep on a condition variable: a busy machine loses no core to waiting.
 * Helpers run under SCHED_BATCH (Linux; same priority, no real-time rights needed): a helper
 * woken for a region waits for a free core rather than pre-empting the thread that woke it.
 * Without it, beside a process keeping a core busy, every wake-up took the caller off its own
 * core: measured on W3 (938 steps, two regions each), the caller spent 320-380 ms an epoch
 * between publishing a region and starting its first piece (2-4 ms under SCHED_BATCH); in
 * alternating runs two threads took 1.02-1.12x the time of one, and 0.92-1.00x under
 * SCHED_BATCH. On an idle machine a woken helper finds an idle core: nothing changes there.
 * One region runs at a time; a second caller meanwhile (another Python thread) runs its pieces
 * alone, with the same result. After fork() the child starts with no helpers.
 */
#ifndef REFNN_POOL_H
#define REFNN_POOL_H
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define REFNN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define REFNN_PAUSE() __asm__ __volatile__("yield")
#else
#define REFNN_PAUSE() ((void) 0)
#endif

#define REFNN_MAX_THREADS 64
#define REFNN_MAX_PIECES 65535       /* a region's pieces (16 bits of a share's counter) */
#define REFNN_SPIN_NS 50000          /* how long an idle thread spins before it sleeps */

typedef void (*refnn_piece_fn)(void* ctx, int piece, int worker);

typedef struct {
    pthread_mutex_t lock;            /* guards the sleeping and the waking */
    pthread_cond_t wake;             /* helpers sleep here until the next region */
    pthread_cond_t finished;         /* the caller sleeps here until the last piece is done */
    pthread_mutex_t busy;            /* held by the caller of the region that runs */
    int started;                     /* helper threads running (1 .. started) */
    int n_helpers;                   /* helpers 1 .. n_helpers take part in this region */
    refnn_piece_fn fn;               /* the region: fn(ctx, piece, worker) for each piece */
    void* ctx;
    int n_pieces;
    atomic_int done;                 /* pieces finished in this region */
    atomic_uint region;              /* counts the regions: what sleeping helpers wait for */
    /* per thread w of the region, its share's counter: (region << 32) | (how many pieces of
     * the share are taken << 16) | (how many it has), each on a cache line of its own */
    struct { _Atomic uint64_t next; char pad[56]; } share[REFNN_MAX_THREADS];
} refnn_pool_t;

static refnn_pool_t refnn_pool = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, {{0}}};
static int refnn_pool_atfork_set = 0;

static inline int64_t refnn_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Take and run pieces of region `region` (its threads 0 .. n_threads - 1) until none is left:
 * first from this worker's own share, then from the others'. A piece is taken by moving a
 * share's counter from (region, i, count) to (region, i + 1, count) while i < count: share
 * w's i-th piece is w + i T. Everything a thread needs to decide is in the counter, so a
 * thread that arrives late (the region over, the next one being set up) finds the counters of
 * another region and takes nothing. */
static void refnn_pool_take_pieces(unsigned region, int worker, int n_threads) {
    refnn_pool_t* P = &refnn_pool;
    int k, w, p;
    for (k = 0; k < n_threads; k++) {
        w = (worker + k) % n_threads;
        for (;;) {
            uint64_t v = atomic_load_explicit(&P->share[w].next, memory_order_acquire);
            p = (int) ((v >> 16) & 0xffffu);
            if ((unsigned) (v >> 32) != region || p >= (int) (v & 0xffffu))
                break;
            if (!atomic_compare_exchange_weak_explicit(&P->share[w].next, &v, v + (1u << 16),
                                                       memory_order_acq_rel,
                                                       memory_order_acquire))
                continue;
            P->fn(P->ctx, w + p * n_threads, worker);          /* the region cannot end first */
            if (atomic_fetch_add_explicit(&P->done, 1, memory_order_acq_rel) + 1
                    == P->n_pieces) {
                pthread_mutex_lock(&P->lock);                  /* the last piece: wake the caller */
                pthread_cond_signal(&P->finished);
                pthread_mutex_unlock(&P->lock);
            }
        }
    }
}

static void* refnn_pool_helper(void* arg) {
    refnn_pool_t* P = &refnn_pool;
    int me = (int) (intptr_t) arg;
    unsigned seen = 0, region;
#ifdef SCHED_BATCH
    struct sched_param normal = {0};          /* a woken helper does not pre-empt the caller */
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &normal);
#endif
    pthread_mutex_lock(&P->lock);
    seen = atomic_load(&P->region);               /* started for the region being published */
    if (seen > 0)
        seen -= 1;
    pthread_mutex_unlock(&P->lock);
    for (;;) {
        int64_t until = refnn_now_ns() + REFNN_SPIN_NS;
        int i = 0;
        while ((region = atomic_load_explicit(&P->region, memory_order_acquire)) == seen) {
            REFNN_PAUSE();
            if (++i % 64 == 0 && refnn_now_ns() > until)
                break;
        }
        if (region == seen) {
            pthread_mutex_lock(&P->lock);
            while ((region = atomic_load(&P->region)) == seen)
                pthread_cond_wait(&P->wake, &P->lock);
            pthread_mutex_unlock(&P->lock);
        }
        seen = region;
        if (me <= P->n_helpers)
            refnn_pool_take_pieces(region, me, P->n_helpers + 1);
    }
    return NULL;
}

static void refnn_pool_after_fork_in_child(void) {
    /* the helpers do not exist in the child: start afresh */
    pthread_mutex_init(&refnn_pool.lock, NULL);
    pthread_mutex_init(&refnn_pool.busy, NULL);
    pthread_cond_init(&refnn_pool.wake, NULL);
    pthread_cond_init(&refnn_pool.finished, NULL);
    refnn_pool.started = 0;
}

/* Run fn(ctx, piece, worker) for piece = 0 .. n_pieces - 1 (at most REFNN_MAX_PIECES) on up
 * to n_threads threads (this one included, as worker 0; helpers are workers 1 ..). Returns the
 * number of threads that could take part: 1 when another region was running or no helper
 * could be started; -1 (and nothing run) for too many pieces. */
static int refnn_pool_run(refnn_piece_fn fn, void* ctx, int n_pieces, int n_threads) {
    refnn_pool_t* P = &refnn_pool;
    int p, helpers, i;
    unsigned region;
    if (n_pieces > REFNN_MAX_PIECES)
        return -1;                          /* the callers cut at most this many */
    if (n_threads > n_pieces)
        n_threads = n_pieces;
    if (n_threads > REFNN_MAX_THREADS)
        n_threads = REFNN_MAX_THREADS;
    if (n_threads <= 1 || pthread_mutex_trylock(&P->busy) != 0) {
        for (p = 0; p < n_pieces; p++)          /* alone: the same pieces, in order */
            fn(ctx, p, 0);
        return 1;
    }
    helpers = n_threads - 1;
    pthread_mutex_lock(&P->lock);
    if (!refnn_pool_atfork_set) {
        pthread_atfork(NULL, NULL, refnn_pool_after_fork_in_child);
        refnn_pool_atfork_set = 1;
    }
    while (P->started < helpers) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        i = pthread_create(&thread, &attr, refnn_pool_helper, (void*) (intptr_t) (P->started + 1));
        pthread_attr_destroy(&attr);
        if (i != 0)
            break;
        P->started += 1;
    }
    if (helpers > P->started)
        helpers = P->started;
    P->fn = fn;
    P->ctx = ctx;
    P->n_pieces = n_pieces;
    P->n_helpers = helpers;
    atomic_store_explicit(&P->done, 0, memory_order_relaxed);
    region = atomic_load(&P->region) + 1;
    for (i = 0; i <= helpers; i++)          /* thread i's share: pieces i, i + T, ... */
        atomic_store_explicit(&P->share[i].next,
                              ((uint64_t) region << 32)
                              | (uint64_t) ((n_pieces - i + helpers) / (helpers + 1)),
                              memory_order_release);
    atomic_store_explicit(&P->region, region, memory_order_release);
    pthread_mutex_unlock(&P->lock);
    pthread_cond_broadcast(&P->wake);       /* after the unlock: a woken helper needs the lock */

    refnn_pool_take_pieces(region, 0, helpers + 1);
    {
        int64_t until = refnn_now_ns() + REFNN_SPIN_NS;
        i = 0;
        while (atomic_load_explicit(&P->done, memory_order_acquire) < n_pieces) {
            REFNN_PAUSE();
            if (++i % 64 == 0 && refnn_now_ns() > until)
                break;
        }
    }
    if (atomic_load_explicit(&P->done, memory_order_acquire) < n_pieces) {
        pthread_mutex_lock(&P->lock);
        while (atomic_load(&P->done) < n_pieces)
            pthread_cond_wait(&P->finished, &P->lock);
        pthread_mutex_unlock(&P->lock);
    }
    pthread_mutex_unlock(&P->busy);
    return helpers + 1;
}

/* How far apart two cores are, for the threads' work: the time for a value written on core a
 * to be seen on core b and one written back to be seen on a (a cache line there and back),
 * averaged over `rounds` round trips. The pieces of a step pass lines between the cores in the
 * same way (each reads the weights the other wrote), so a step on two threads slows as this
 * grows; a virtual machine's two cores can be a few tens of nanoseconds apart one minute and
 * hundreds the next. Two new threads, pinned to cores a and b, pass a counter back and forth;
 * neither waits past `budget_ns` in all. Returns nanoseconds per round trip, or -1 when a core
 * could not be used, a thread not started, or the round trips not all done within the budget
 * (a busy core). Linux only (-1 elsewhere). */
typedef struct {
    _Atomic long turn;               /* odd: b's turn; even: a's; -1: b not started yet */
    char pad[56];
    _Atomic int stop;                /* either side gives up: the other stops too */
    int cpu[2];
    long rounds, done;
    int64_t deadline, elapsed;
    int pinned[2];
} refnn_round_trip_t;

static int refnn_pin_to(int cpu) {
#if defined(__linux__) && defined(CPU_SET)
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return -1;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 ? 0 : -1;
#else
    (void) cpu;
    return -1;
#endif
}

/* spin until *turn == want; 0 when it came, -1 at the deadline or when the other side stopped */
static int refnn_wait_turn(refnn_round_trip_t* R, long want) {
    int i = 0;
    while (atomic_load_explicit(&R->turn, memory_order_acquire) != want) {
        REFNN_PAUSE();
        if (++i % 64 == 0 && (atomic_load_explicit(&R->stop, memory_order_relaxed)
                              || refnn_now_ns() > R->deadline)) {
            atomic_store(&R->stop, 1);
            return -1;
        }
    }
    return 0;
}

static void* refnn_round_trip_b(void* arg) {
    refnn_round_trip_t* R = (refnn_round_trip_t*) arg;
    long i;
    R->pinned[1] = refnn_pin_to(R->cpu[1]) == 0;
    atomic_store_explicit(&R->turn, 0, memory_order_release);       /* b is here */
    for (i = 0; i < R->rounds; i++) {
        if (refnn_wait_turn(R, 2 * i + 1) != 0)
            break;
        atomic_store_explicit(&R->turn, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static void* refnn_round_trip_a(void* arg) {
    refnn_round_trip_t* R = (refnn_round_trip_t*) arg;
    long i;
    int64_t start;
    R->pinned[0] = refnn_pin_to(R->cpu[0]) == 0;
    if (refnn_wait_turn(R, 0) != 0)                                  /* b has started */
        return NULL;
    start = refnn_now_ns();
    for (i = 0; i < R->rounds; i++) {
        atomic_store_explicit(&R->turn, 2 * i + 1, memory_order_release);
        if (refnn_wait_turn(R, 2 * i + 2) != 0)
            break;
        R->done = i + 1;
    }
    R->elapsed = refnn_now_ns() - start;
    return NULL;
}

static double refnn_round_trip_ns(int cpu_a, int cpu_b, long rounds, int64_t budget_ns) {
#if defined(__linux__)
    refnn_round_trip_t R;
    pthread_t a, b;
    R.turn = -1;
    R.stop = 0;
    R.cpu[0] = cpu_a;
    R.cpu[1] = cpu_b;
    R.rounds = rounds;
    R.done = 0;
    R.elapsed = 0;
    R.pinned[0] = R.pinned[1] = 0;
    R.deadline = refnn_now_ns() + budget_ns;
    if (rounds < 1 || pthread_create(&b, NULL, refnn_round_trip_b, &R) != 0)
        return -1;
    if (pthread_create(&a, NULL, refnn_round_trip_a, &R) != 0) {
        atomic_store(&R.stop, 1);
        pthread_join(b, NULL);
        return -1;
    }
    pthread_join(a, NULL);
    atomic_store(&R.stop, 1);
    pthread_join(b, NULL);
    if (!R.pinned[0] || !R.pinned[1] || R.done < rounds)
        return -1;
    return (double) R.elapsed / (double) R.done;
#else
    (void) cpu_a; (void) cpu_b; (void) rounds; (void) budget_ns;
    return -1;
#endif
}
#endif
