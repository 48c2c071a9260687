namespace MirrorKv.Client;

/// <summary>
/// The rkeys of one node's regions that a channel has seen: those its HELLO reply listed, and those of every
/// pointer a reply on the channel carried since (a node registers memory in chunks as it fills, each with an
/// rkey of its own, and a pointer in a node's reply names a region of that node). The read path asks
/// <see cref="Contains"/> per READ to route a pointer: one hashed probe, no lock, no allocation.
/// </summary>
/// <remarks>Adding copies the table (under a lock) and publishes it whole; it happens once per new chunk.</remarks>
internal sealed class RKeySet
{
    private readonly Lock _writeLock = new();
    private volatile uint[] _table = new uint[8];
    private int _count;

    /// <summary>True when <paramref name="rkey"/> was added (rkey 0 never is).</summary>
    public bool Contains(uint rkey)
    {
        uint[] table = _table;
        int mask = table.Length - 1;
        for (int i = Home(rkey, mask); ; i = (i + 1) & mask)
        {
            uint key = table[i];
            if (key == rkey)
            {
                return rkey != 0;
            }

            if (key == 0)
            {
                return false;
            }
        }
    }

    /// <summary>Adds <paramref name="rkey"/>; a known one (or 0) is left alone without taking the lock.</summary>
    public void Add(uint rkey)
    {
        if (rkey == 0 || Contains(rkey))
        {
            return;
        }

        lock (_writeLock)
        {
            uint[] table = _table;
            if (Contains(rkey))
            {
                return;
            }

            // At most half full, so that probes stay short and always end at an empty slot.
            uint[] next = new uint[(_count + 1) * 2 > table.Length ? table.Length * 2 : table.Length];
            foreach (uint key in table)
            {
                if (key != 0)
                {
                    Place(next, key);
                }
            }

            Place(next, rkey);
            _count++;
            _table = next;
        }
    }

    /// <summary>Every rkey added, in no order.</summary>
    public IReadOnlyList<uint> ToList()
    {
        var keys = new List<uint>(_count);
        foreach (uint key in _table)
        {
            if (key != 0)
            {
                keys.Add(key);
            }
        }

        return keys;
    }

    private static void Place(uint[] table, uint rkey)
    {
        int mask = table.Length - 1;
        int i = Home(rkey, mask);
        while (table[i] != 0)
        {
            i = (i + 1) & mask;
        }

        table[i] = rkey;
    }

    private static int Home(uint rkey, int mask) => (int)((rkey * 0x9E3779B1u) >> 16) & mask;
}
