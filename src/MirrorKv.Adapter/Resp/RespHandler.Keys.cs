using System.Buffers.Text;
using System.Diagnostics;
using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>The key commands: DEL, UNLINK, EXISTS, EXPIRE, PEXPIRE, PERSIST, TTL, PTTL, TYPE, SCAN, FLUSHDB.</summary>
internal sealed partial class RespHandler
{
    // SCAN examines at most this many slots per call (under one hold of the store's lock), whatever COUNT says.
    private const int MaxScanSlots = 100_000;

    // The most key bytes (with 4 bytes of length each) one KEYS gathers: a reply of that size leaves as one write.
    private const int MaxListedBytes = 16 << 20;

    private void Del(RespSession session, in RespRequest request)
    {
        long now = RespNumbers.NowUnixMs();
        int live = 0;
        int deleted = 0;
        for (int i = 1; i < request.Count; i++)
        {
            var mutation = new TakeMutation(session, copy: false, now);
            StoreWriteResult result = _node.Store.Mutate(request[i], ref mutation);
            if (result.IsOk && result.Kind == WriteKind.Deleted)
            {
                deleted++;
                live += mutation.WasLive ? 1 : 0;
            }
        }

        if (deleted > 0)
        {
            Changed(session, deleted: true, count: deleted);
        }

        session.Output.Integer(live);
    }

    private void Exists(RespSession session, in RespRequest request)
    {
        long now = RespNumbers.NowUnixMs();
        int count = 0;
        for (int i = 1; i < request.Count; i++)
        {
            var visitor = new MetadataVisitor(now);
            count += _node.Store.TryVisit(request[i], ref visitor, out bool pending) && visitor.Live ? 1 : 0;
            SawUnpublished(session, pending);
        }

        session.Output.Integer(count);
    }

    private void TypeOf(RespSession session, in RespRequest request)
    {
        var visitor = new MetadataVisitor(RespNumbers.NowUnixMs());
        bool live = _node.Store.TryVisit(request[1], ref visitor, out bool pending) && visitor.Live;
        SawUnpublished(session, pending);
        session.Output.Simple(live ? "string"u8 : "none"u8);
    }

    private void Ttl(RespSession session, in RespRequest request, long unit)
    {
        long now = RespNumbers.NowUnixMs();
        var visitor = new MetadataVisitor(now);
        bool live = _node.Store.TryVisit(request[1], ref visitor, out bool pending) && visitor.Live;
        SawUnpublished(session, pending);
        if (!live)
        {
            session.Output.Integer(-2);
        }
        else if (visitor.ExpiresAt == StoredValue.Never)
        {
            session.Output.Integer(-1);
        }
        else
        {
            // Rounded to the nearest second, as redis does.
            long left = visitor.ExpiresAt - now;
            session.Output.Integer(unit == 1 ? left : (left + 500) / 1000);
        }
    }

    // EXPIRE key seconds [NX | XX | GT | LT], PEXPIRE key milliseconds [...]; EXPIREAT, PEXPIREAT key unix-time [...]
    // (absolute). A deadline already past deletes the key.
    private void Expire(RespSession session, in RespRequest request, long unit, bool absolute = false)
    {
        string command = (unit == 1 ? "pexpire" : "expire") + (absolute ? "at" : "");
        ExpireCondition condition = ExpireCondition.Always;
        for (int i = 3; i < request.Count; i++)
        {
            ReadOnlySpan<byte> option = request[i];
            ExpireCondition next = RespNumbers.Is(option, "NX"u8) ? ExpireCondition.IfNone
                : RespNumbers.Is(option, "XX"u8) ? ExpireCondition.IfAny
                : RespNumbers.Is(option, "GT"u8) ? ExpireCondition.IfGreater
                : RespNumbers.Is(option, "LT"u8) ? ExpireCondition.IfLess
                : (ExpireCondition)(-1);
            if ((int)next < 0)
            {
                session.Output.Error($"ERR Unsupported option {Printable(option, 64)}");
                return;
            }

            if (condition != ExpireCondition.Always && condition != next)
            {
                session.Output.Error(condition is ExpireCondition.IfNone || next is ExpireCondition.IfNone
                    ? "ERR NX and XX, GT or LT options at the same time are not compatible"
                    : "ERR GT and LT options at the same time are not compatible");
                return;
            }

            condition = next;
        }

        if (!TryDeadline(session.Output, request[2], unit, absolute, command, mustBePositive: false, out long deadline))
        {
            return;
        }

        ApplyDeadline(session, request[1], deadline, condition);
    }

    private void Persist(RespSession session, in RespRequest request) => ApplyDeadline(session, request[1], StoredValue.Never, ExpireCondition.IfAny);

    private void ApplyDeadline(RespSession session, ReadOnlySpan<byte> key, long deadline, ExpireCondition condition)
    {
        var mutation = new ExpireMutation(session, deadline, condition, RespNumbers.NowUnixMs());
        StoreWriteResult result = _node.Store.Mutate(key, ref mutation);
        if (!result.IsOk && result.Status != StoreStatus.NotFound)
        {
            StoreError(session, result.Status, key.Length, mutation.NewValue.Length);
            return;
        }

        if (result.IsOk && result.Kind != WriteKind.None)
        {
            Changed(session, deleted: result.Kind == WriteKind.Deleted);
        }

        session.Output.Integer(mutation.Applied && result.IsOk ? 1 : 0);
    }

    // SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is where the scan stands in the
    // store's memory (a byte offset), so it stays valid whatever is written between calls.
    private void Scan(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        if (!Utf8Parser.TryParse(request[1], out ulong cursor, out int used) || used != request[1].Length)
        {
            output.Error("ERR invalid cursor");
            return;
        }

        ReadOnlySpan<byte> pattern = default;
        bool matchAll = true;
        long count = 10;
        bool stringsWanted = true;
        for (int i = 2; i < request.Count; i++)
        {
            ReadOnlySpan<byte> option = request[i];
            if (i + 1 >= request.Count)
            {
                output.Error("ERR syntax error");
                return;
            }

            if (RespNumbers.Is(option, "MATCH"u8))
            {
                pattern = request[++i];
                matchAll = pattern.Length == 1 && pattern[0] == (byte)'*';
            }
            else if (RespNumbers.Is(option, "COUNT"u8))
            {
                if (!RespNumbers.TryParse(request[++i], out count))
                {
                    output.Error(RespNumbers.NotAnInteger);
                    return;
                }

                if (count < 1)
                {
                    output.Error("ERR syntax error");
                    return;
                }
            }
            else if (RespNumbers.Is(option, "TYPE"u8))
            {
                // Every value is a string: another type matches nothing (the scan still moves on).
                stringsWanted = RespNumbers.Is(request[++i], "STRING"u8);
            }
            else
            {
                output.Error("ERR syntax error");
                return;
            }
        }

        int want = (int)Math.Min(count, MaxScanSlots);
        var collector = new KeyCollector(session, pattern, matchAll, includeExpired: false, want, RespNumbers.NowUnixMs(), acceptNothing: !stringsWanted);

        ulong next = _node.Store.Scan(cursor, (int)Math.Clamp(count * 10, 1000, MaxScanSlots), ref collector);
        output.Array(2);
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(next, digits, out int length);
        output.Bulk(digits[..length]);
        output.Array(collector.Found);
        int offset = 0;
        for (int i = 0; i < collector.Found; i++)
        {
            output.Bulk(KeyCollector.Next(session.Copy, ref offset));
        }
    }

    // KEYS pattern: every live key that matches. A walk of the whole store, so it runs in turns of TurnBudget as FLUSHDB
    // does (a store of millions of keys takes longer than the primary's lease), the keys found kept by the session
    // between turns; the reply, whose length is known only at the end, leaves with the last turn. Bounded: a listing
    // over MaxListedBytes is refused rather than grown without end.
    private void Keys(RespSession session, in RespRequest request)
    {
        ReadOnlySpan<byte> pattern = request[1];
        bool matchAll = pattern.Length == 1 && pattern[0] == (byte)'*';
        ulong cursor = session.Listing ? session.ListCursor : 0;

        long turn = Stopwatch.GetTimestamp();
        long now = RespNumbers.NowUnixMs();
        do
        {
            var collector = new KeyCollector(session, pattern, matchAll, includeExpired: false, 1024, now);
            cursor = _node.Store.Scan(cursor, 8192, ref collector);
            if (collector.Found > 0)
            {
                int total = session.ListedBytes + collector.Bytes;
                if (total > MaxListedBytes)
                {
                    session.EndListing();
                    session.Output.Error($"ERR KEYS matched more than {MaxListedBytes >> 20} MiB of keys: use SCAN with MATCH and COUNT to walk them in parts");
                    return;
                }

                byte[] listed = session.ListedKeys ?? new byte[Math.Max(4096, collector.Bytes)];
                if (listed.Length < total)
                {
                    Array.Resize(ref listed, Math.Min(Math.Max(total, listed.Length * 2), MaxListedBytes));
                }

                session.Copy.AsSpan(0, collector.Bytes).CopyTo(listed.AsSpan(session.ListedBytes));
                session.ListedKeys = listed;
                session.ListedBytes = total;
                session.ListedCount += collector.Found;
            }

            if (cursor != 0 && Stopwatch.GetElapsedTime(turn) > TurnBudget)
            {
                session.Listing = true;
                session.ListCursor = cursor;
                session.RunAgain = true;
                return;
            }
        }
        while (cursor != 0);

        RespOutput output = session.Output;
        output.Array(session.ListedCount);
        int offset = 0;
        for (int i = 0; i < session.ListedCount; i++)
        {
            output.Bulk(KeyCollector.Next(session.ListedKeys!, ref offset));
        }

        session.EndListing();
    }

    // FLUSHDB [ASYNC | SYNC]: every key deleted (and the deletes replicated), in steps that each hold the store's
    // lock briefly, and in turns of the event loop (TurnBudget each): a flush of a million keys takes over a second,
    // longer than the primary's lease, and in one turn it fenced the node halfway. Between turns the loop serves
    // other clients, so keys they write meanwhile may survive the flush; this connection's later requests wait.
    private void FlushDb(RespSession session, in RespRequest request)
    {
        if (request.Count > 2 || (request.Count == 2 && !RespNumbers.Is(request[1], "ASYNC"u8) && !RespNumbers.Is(request[1], "SYNC"u8)))
        {
            session.Output.Error("ERR syntax error");
            return;
        }

        ulong cursor = session.Flushing ? session.FlushCursor : 0;
        int deleted = session.Flushing ? session.FlushDeleted : 0;
        long turn = Stopwatch.GetTimestamp();
        do
        {
            var collector = new KeyCollector(session, default, matchAll: true, includeExpired: true, 1024, 0);
            cursor = _node.Store.Scan(cursor, 8192, ref collector);
            int offset = 0;
            for (int i = 0; i < collector.Found; i++)
            {
                ReadOnlySpan<byte> key = KeyCollector.Next(session.Copy, ref offset);
                deleted += _node.Store.Delete(key).IsOk ? 1 : 0;
            }

            if (cursor != 0 && Stopwatch.GetElapsedTime(turn) > TurnBudget)
            {
                session.Flushing = true;
                session.FlushCursor = cursor;
                session.FlushDeleted = deleted;
                session.RunAgain = true;
                return;
            }
        }
        while (cursor != 0);

        if (deleted > 0)
        {
            Changed(session, deleted: true, count: deleted);
        }

        session.Output.Ok();
    }
}
