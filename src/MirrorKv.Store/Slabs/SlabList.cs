namespace MirrorKv.Store;

/// <summary>
/// Doubly linked lists of slab indexes kept in arrays, one list per owner (a size class), with each slab in at
/// most one of them: O(1) add, remove and head, and no allocation after construction.
/// </summary>
internal sealed class SlabList
{
    private const int None = -1;
    private int[] _next;
    private int[] _prev;
    private int[] _owner;
    private readonly int[] _head;
    private readonly int[] _tail;

    public SlabList(int slabs, int owners)
    {
        _next = new int[slabs];
        _prev = new int[slabs];
        _owner = new int[slabs];
        _head = new int[owners];
        _tail = new int[owners];
        Clear();
    }

    /// <summary>Makes room for <paramref name="slabs"/> slabs in all (the new ones on no list).</summary>
    public void Grow(int slabs)
    {
        int old = _owner.Length;
        Array.Resize(ref _next, slabs);
        Array.Resize(ref _prev, slabs);
        Array.Resize(ref _owner, slabs);
        _owner.AsSpan(old).Fill(None);
    }

    /// <summary>Slabs on all the lists.</summary>
    public int Count { get; private set; }

    public int Head(int owner) => _head[owner];

    public bool Contains(int slab) => _owner[slab] != None;

    public void AddFirst(int owner, int slab)
    {
        _owner[slab] = owner;
        _prev[slab] = None;
        _next[slab] = _head[owner];
        if (_head[owner] != None)
        {
            _prev[_head[owner]] = slab;
        }
        else
        {
            _tail[owner] = slab;
        }

        _head[owner] = slab;
        Count++;
    }

    public void AddLast(int owner, int slab)
    {
        _owner[slab] = owner;
        _next[slab] = None;
        _prev[slab] = _tail[owner];
        if (_tail[owner] != None)
        {
            _next[_tail[owner]] = slab;
        }
        else
        {
            _head[owner] = slab;
        }

        _tail[owner] = slab;
        Count++;
    }

    /// <summary>Takes a slab off its list; a slab on no list is left alone.</summary>
    public void Remove(int slab)
    {
        int owner = _owner[slab];
        if (owner == None)
        {
            return;
        }

        int prev = _prev[slab], next = _next[slab];
        if (prev != None)
        {
            _next[prev] = next;
        }
        else
        {
            _head[owner] = next;
        }

        if (next != None)
        {
            _prev[next] = prev;
        }
        else
        {
            _tail[owner] = prev;
        }

        _owner[slab] = None;
        Count--;
    }

    public void Clear()
    {
        Array.Fill(_owner, None);
        Array.Fill(_head, None);
        Array.Fill(_tail, None);
        Count = 0;
    }
}
