namespace MirrorKv.Client;

/// <summary>
/// The local table's entry for one key, updated in place so that a write to a known key allocates
/// nothing. Readers take a consistent copy under a seqlock (odd while being written) without locking;
/// writers serialize on the cell.
/// </summary>
internal sealed class PointerCell(CachedPointer initial)
{
    private readonly Lock _lock = new();
    private int _sequence;
    private CachedPointer _value = initial;

    /// <summary>A consistent copy; <c>Pointer.IsNull</c> when the entry was invalidated.</summary>
    public CachedPointer Read()
    {
        var spin = default(SpinWait);
        while (true)
        {
            int before = Volatile.Read(ref _sequence);
            if ((before & 1) == 0)
            {
                CachedPointer value = _value;
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _sequence) == before)
                {
                    return value;
                }
            }

            spin.SpinOnce();
        }
    }

    public void Write(in CachedPointer value)
    {
        lock (_lock)
        {
            Store(value);
        }
    }

    /// <summary>Replaces the value only if it is still <paramref name="expected"/> (no newer pointer was learned meanwhile).</summary>
    public bool TryReplace(in CachedPointer expected, in CachedPointer value)
    {
        lock (_lock)
        {
            if (_value != expected)
            {
                return false;
            }

            Store(value);
            return true;
        }
    }

    private void Store(in CachedPointer value)
    {
        Volatile.Write(ref _sequence, _sequence + 1);
        Interlocked.MemoryBarrier();
        _value = value;
        Volatile.Write(ref _sequence, _sequence + 1);
    }
}
