using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using MirrorKv.Memory;

namespace MirrorKv.Client;

/// <summary>
/// The client's local table, key -> remote pointer: one flat array of slots, open addressing, found by a
/// 64-bit hash of the key. A lookup touches one slot (one cache miss) where a dictionary of cells touched
/// the bucket, the node, the key and the cell: with several clients' tables and the kernel's socket buffers
/// competing for the cache, those misses were a fifth of a reading client's CPU.
/// </summary>
/// <remarks>
/// <para>
/// Keys are not stored, only their hash, seeded per table so that keys cannot be chosen to collide. Two keys
/// with the same 64-bit hash would share a slot; that costs speed, never correctness, because every entry
/// a one-sided read returns is checked against the key itself (a foreign key is refused, and the client
/// looks the key up again).
/// </para>
/// <para>
/// Readers take no lock: a slot is written under a seqlock (odd sequence while it changes) and a slot's
/// hash, once set, never changes within an array, so a reader that finds the hash reads a consistent
/// value or retries. Writers serialize on one lock. When the used slots pass half of the array, a writer
/// copies the live entries into a new array and publishes it; a reader still on the old array may see a
/// pointer from just before the copy, as it may see any pointer that another client's write made stale,
/// and validation handles both.
/// </para>
/// </remarks>
internal sealed class PointerTable
{
    private const int MinCapacity = 64;

    private readonly Lock _writeLock = new();
    private readonly long _seed = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
    private Slot[] _slots = NewSlots(MinCapacity);
    private int _used;
    private int _live;

    /// <summary>Keys that have a pointer now.</summary>
    public int Count => Volatile.Read(ref _live);

    public bool TryGet(string key, out CachedPointer cached) => TryGet(Hash(key), out cached);

    /// <summary>
    /// The key's hash, after starting to load its slot's cache line: a batch hashes all its keys first, then
    /// looks them up, so that its cache misses overlap instead of following one another.
    /// </summary>
    public unsafe ulong HashAndPrefetch(string key)
    {
        ulong hash = Hash(key);
        if (Sse.IsSupported)
        {
            // The arrays are pinned (allocated on the pinned heap), so the address stays valid.
            Slot[] slots = Volatile.Read(ref _slots);
            Sse.Prefetch0(Unsafe.AsPointer(ref slots[(int)hash & (slots.Length - 1)]));
        }

        return hash;
    }

    /// <summary>Looks up by a hash from <see cref="HashAndPrefetch"/>.</summary>
    public bool TryGet(ulong hash, out CachedPointer cached)
    {
        Slot[] slots = Volatile.Read(ref _slots);
        int mask = slots.Length - 1;
        for (int i = (int)hash & mask; ; i = (i + 1) & mask)
        {
            ref Slot slot = ref slots[i];
            ulong slotHash = Volatile.Read(ref slot.Hash);
            if (slotHash == hash)
            {
                cached = slot.Read();
                return !cached.Pointer.IsNull;
            }

            if (slotHash == 0)
            {
                // Probing stops at an empty slot; the array is never full (it grows at half).
                cached = default;
                return false;
            }
        }
    }

    /// <summary>Stores the key's pointer (a default pointer forgets it).</summary>
    public void Set(string key, in CachedPointer cached) => Set(Hash(key), cached);

    /// <summary>Stores a pointer by a hash from <see cref="HashAndPrefetch"/>.</summary>
    public void Set(ulong hash, in CachedPointer cached)
    {
        lock (_writeLock)
        {
            ref Slot slot = ref FindOrClaim(hash);
            Store(ref slot, cached);
        }
    }

    /// <summary>Replaces the key's pointer only if it is still <paramref name="expected"/>: a newer one learned meanwhile wins.</summary>
    public bool TryReplace(string key, in CachedPointer expected, in CachedPointer value)
    {
        ulong hash = Hash(key);
        lock (_writeLock)
        {
            ref Slot slot = ref Find(hash);
            if (Unsafe.IsNullRef(ref slot) || slot.Value != expected)
            {
                return false;
            }

            Store(ref slot, value);
            return true;
        }
    }

    /// <summary>
    /// Rewrites every pointer <paramref name="rewrite"/> maps to something else (default forgets it), under
    /// the write lock so that no pointer learned meanwhile is overwritten; returns how many were rewritten
    /// to a pointer.
    /// </summary>
    public long RewriteAll(Func<CachedPointer, CachedPointer?> rewrite)
    {
        long rewritten = 0;
        lock (_writeLock)
        {
            Slot[] slots = _slots;
            for (int i = 0; i < slots.Length; i++)
            {
                ref Slot slot = ref slots[i];
                if (slot.Hash == 0 || slot.Value.Pointer.IsNull || rewrite(slot.Value) is not { } replacement)
                {
                    continue;
                }

                Store(ref slot, replacement);
                rewritten += replacement.Pointer.IsNull ? 0 : 1;
            }
        }

        return rewritten;
    }

    // Pinned: lookups prefetch slots by address; the arrays live as long as the client, so pinning costs nothing.
    private static Slot[] NewSlots(int capacity) => GC.AllocateArray<Slot>(capacity, pinned: true);

    private ulong Hash(string key)
    {
        // 0 marks an empty slot, so no key may hash to it.
        ulong hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(key.AsSpan()), _seed);
        return hash == 0 ? 1 : hash;
    }

    private ref Slot Find(ulong hash)
    {
        Slot[] slots = _slots;
        int mask = slots.Length - 1;
        for (int i = (int)hash & mask; ; i = (i + 1) & mask)
        {
            if (slots[i].Hash == hash)
            {
                return ref slots[i];
            }

            if (slots[i].Hash == 0)
            {
                return ref Unsafe.NullRef<Slot>();
            }
        }
    }

    // Under the write lock.
    private ref Slot FindOrClaim(ulong hash)
    {
        ref Slot found = ref Find(hash);
        if (!Unsafe.IsNullRef(ref found))
        {
            return ref found;
        }

        if ((_used + 1) * 2 > _slots.Length)
        {
            Resize();
        }

        Slot[] slots = _slots;
        int mask = slots.Length - 1;
        int i = (int)hash & mask;
        while (slots[i].Hash != 0)
        {
            i = (i + 1) & mask;
        }

        _used++;

        // A reader may find the hash before the caller stores the value: it reads the empty value as "no
        // pointer", as it would have a moment earlier.
        Volatile.Write(ref slots[i].Hash, hash);
        return ref slots[i];
    }

    // Under the write lock: a new array sized for the live entries, so that forgotten keys do not pile up.
    private void Resize()
    {
        Slot[] old = _slots;
        int capacity = MinCapacity;
        while (capacity < (_live + 1) * 4)
        {
            capacity *= 2;
        }

        Slot[] slots = NewSlots(capacity);
        int mask = capacity - 1;
        int used = 0;
        foreach (ref Slot slot in old.AsSpan())
        {
            if (slot.Hash == 0 || slot.Value.Pointer.IsNull)
            {
                continue;
            }

            int i = (int)slot.Hash & mask;
            while (slots[i].Hash != 0)
            {
                i = (i + 1) & mask;
            }

            slots[i].Hash = slot.Hash;
            slots[i].Value = slot.Value;
            used++;
        }

        _used = used;
        Volatile.Write(ref _slots, slots);
    }

    private void Store(ref Slot slot, in CachedPointer value)
    {
        _live += (slot.Value.Pointer.IsNull ? 0 : -1) + (value.Pointer.IsNull ? 0 : 1);
        slot.Write(value);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public ulong Hash;
        public int Sequence;
        public CachedPointer Value;

        public CachedPointer Read()
        {
            var spin = default(SpinWait);
            while (true)
            {
                int before = Volatile.Read(ref Sequence);
                if ((before & 1) == 0)
                {
                    CachedPointer value = Value;
                    Volatile.ReadBarrier();
                    if (Volatile.Read(ref Sequence) == before)
                    {
                        return value;
                    }
                }

                spin.SpinOnce();
            }
        }

        // Under the table's write lock.
        public void Write(in CachedPointer value)
        {
            Volatile.Write(ref Sequence, Sequence + 1);
            Volatile.WriteBarrier();
            Value = value;
            Volatile.Write(ref Sequence, Sequence + 1);
        }
    }
}
