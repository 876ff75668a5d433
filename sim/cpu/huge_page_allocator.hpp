// Allocator for the CPU engine's large per-window buffers (the tape: ~270 MB for the text recipe's
// 128-step window). A step's backward reads every neuron's slice of the tape once, from DRAM, through
// several 4 KiB pages per neuron; on 2 MiB pages those reads miss the TLB far less often (the text
// recipe's training steps were ~10 % faster with transparent huge pages on every allocation).
//
// Blocks of kHugePageMin bytes or more are aligned to 2 MiB and advised as huge pages (Linux
// madvise(MADV_HUGEPAGE)) before anything touches them: the default "madvise" setting of transparent
// huge pages then backs them with 2 MiB pages where the kernel has them, and "never" leaves them as
// they were. Smaller blocks, and other systems, get the usual allocation. Only where the memory lies
// changes: the floats do not.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace elm::sim::cpu {

inline constexpr std::size_t kHugePage = std::size_t{2} << 20;
inline constexpr std::size_t kHugePageMin = std::size_t{4} << 20;

template <class T>
struct HugePageAllocator {
    using value_type = T;

    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

    static bool huge(std::size_t n) { return n * sizeof(T) >= kHugePageMin; }

    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        if (!huge(n)) return static_cast<T*>(::operator new(n * sizeof(T)));
        const std::size_t bytes = (n * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
        void* p = std::aligned_alloc(kHugePage, bytes);
        if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        madvise(p, bytes, MADV_HUGEPAGE);  // advice only: where it is refused, the pages stay small
#endif
        return static_cast<T*>(p);
    }

    void deallocate(T* p, std::size_t n) noexcept {
        if (huge(n)) std::free(p);
        else ::operator delete(p);
    }

    template <class U>
    bool operator==(const HugePageAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace elm::sim::cpu
