using MirrorKv.Store;

namespace MirrorKv.Adapter.Resp;

/// <summary>The string commands: GET, SET, GETDEL, MGET, MSET, INCR and kin, INCRBYFLOAT, APPEND, SETRANGE, GETRANGE, STRLEN.</summary>
internal sealed partial class RespHandler
{
    private void Get(RespSession session, in RespRequest request)
    {
        var visitor = new BulkVisitor(session.Output);
        bool hit = _node.Store.TryVisit(request[1], ref visitor, out bool pending) && visitor.Hit;
        SawUnpublished(session, pending);
        if (hit)
        {
            session.BatchHits++;
            return;
        }

        session.BatchMisses++;
        session.Output.Null();
    }

    private void MGet(RespSession session, in RespRequest request)
    {
        session.Output.Array(request.Count - 1);
        for (int i = 1; i < request.Count; i++)
        {
            var visitor = new BulkVisitor(session.Output);
            bool hit = _node.Store.TryVisit(request[i], ref visitor, out bool pending) && visitor.Hit;
            SawUnpublished(session, pending);
            if (hit)
            {
                session.BatchHits++;
            }
            else
            {
                session.BatchMisses++;
                session.Output.Null();
            }
        }
    }

    private void Set(RespSession session, in RespRequest request)
    {
        if (!TryReadSetOptions(session.Output, request, out SetOptions options, out long expiresAt))
        {
            return;
        }

        ReadOnlySpan<byte> key = request[1];
        ReadOnlySpan<byte> value = request[2];
        StoreWriteResult result;
        int oldLength = -1;
        if ((options & ~SetOptions.Expiry) == SetOptions.None)
        {
            // Plain SET (the hot path): one write, the value as it is unless it needs the expiry prefix.
            result = StoredValue.NeedsPrefix(value, expiresAt)
                ? _node.Store.Write(key, Encoded(session, value, expiresAt))
                : _node.Store.Write(key, value);
        }
        else
        {
            var mutation = new SetMutation(session, value, expiresAt, options, RespNumbers.NowUnixMs());
            result = _node.Store.Mutate(key, ref mutation);
            oldLength = mutation.OldLength;
        }

        if (!result.IsOk)
        {
            StoreError(session, result.Status, key.Length, StoredValue.EncodedLength(value, expiresAt));
            return;
        }

        if (result.Kind != WriteKind.None)
        {
            Changed(session);
        }

        if ((options & SetOptions.Get) != 0)
        {
            OldValue(session, oldLength);
        }
        else if (result.Kind != WriteKind.None)
        {
            session.Output.Ok();
        }
        else
        {
            // NX or XX did not hold: redis answers nil.
            session.Output.Null();
        }
    }

    // The value with its expiry prefix, built in the session's scratch buffer.
    private static ReadOnlySpan<byte> Encoded(RespSession session, ReadOnlySpan<byte> value, long expiresAt)
    {
        Span<byte> room = session.ScratchRoom(StoredValue.EncodedLength(value, expiresAt));
        return room[..StoredValue.Encode(room, value, expiresAt)];
    }

    // SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
    private static bool TryReadSetOptions(RespOutput output, in RespRequest request, out SetOptions options, out long expiresAt)
    {
        options = SetOptions.None;
        expiresAt = StoredValue.Never;
        for (int i = 3; i < request.Count; i++)
        {
            ReadOnlySpan<byte> option = request[i];
            if (RespNumbers.Is(option, "NX"u8) && (options & SetOptions.IfPresent) == 0)
            {
                options |= SetOptions.IfAbsent;
            }
            else if (RespNumbers.Is(option, "XX"u8) && (options & SetOptions.IfAbsent) == 0)
            {
                options |= SetOptions.IfPresent;
            }
            else if (RespNumbers.Is(option, "GET"u8))
            {
                options |= SetOptions.Get;
            }
            else if (RespNumbers.Is(option, "KEEPTTL"u8) && (options & SetOptions.Expiry) == 0)
            {
                options |= SetOptions.KeepTtl;
            }
            else if (i + 1 < request.Count && (options & (SetOptions.Expiry | SetOptions.KeepTtl)) == 0 && ExpiryUnit(option) is { } unit)
            {
                if (!TryDeadline(output, request[++i], unit.Milliseconds, unit.Absolute, "set", mustBePositive: true, out expiresAt))
                {
                    return false;
                }

                options |= SetOptions.Expiry;
            }
            else
            {
                output.Error("ERR syntax error");
                return false;
            }
        }

        return true;
    }

    private static (long Milliseconds, bool Absolute)? ExpiryUnit(ReadOnlySpan<byte> option) =>
        RespNumbers.Is(option, "EX"u8) ? (1000, false)
        : RespNumbers.Is(option, "PX"u8) ? (1, false)
        : RespNumbers.Is(option, "EXAT"u8) ? (1000, true)
        : RespNumbers.Is(option, "PXAT"u8) ? (1, true)
        : null;

    /// <summary>
    /// A deadline in Unix milliseconds from a time to live (or an absolute time) in <paramref name="unit"/>
    /// milliseconds. SET and SETEX want it positive; EXPIRE takes any (a deadline in the past deletes the key).
    /// </summary>
    private static bool TryDeadline(RespOutput output, ReadOnlySpan<byte> text, long unit, bool absolute, string command, bool mustBePositive, out long deadline)
    {
        deadline = 0;
        if (!RespNumbers.TryParse(text, out long amount))
        {
            output.Error(RespNumbers.NotAnInteger);
            return false;
        }

        long now = absolute ? 0 : RespNumbers.NowUnixMs();
        bool fits = amount <= (long.MaxValue - 1 - now) / unit && amount >= (long.MinValue / 2 - now) / unit;
        if ((mustBePositive && amount <= 0) || !fits)
        {
            output.Error($"ERR invalid expire time in '{command}' command");
            return false;
        }

        deadline = now + (amount * unit);
        return true;
    }

    // SETEX key seconds value, PSETEX key milliseconds value: SET key value EX|PX time.
    private void SetEx(RespSession session, in RespRequest request, long unit)
    {
        if (!TryDeadline(session.Output, request[2], unit, absolute: false, unit == 1 ? "psetex" : "setex", mustBePositive: true, out long expiresAt))
        {
            return;
        }

        ReadOnlySpan<byte> value = request[3];
        StoreWriteResult result = _node.Store.Write(request[1], Encoded(session, value, expiresAt));
        if (!result.IsOk)
        {
            StoreError(session, result.Status, request[1].Length, StoredValue.EncodedLength(value, expiresAt));
            return;
        }

        Changed(session);
        session.Output.Ok();
    }

    // SETNX key value: SET key value NX, answered 1 (set) or 0.
    private void SetNx(RespSession session, in RespRequest request)
    {
        if (TrySetWithoutDeadline(session, request, SetOptions.IfAbsent, out StoreWriteResult result, out _))
        {
            session.Output.Integer(result.Kind != WriteKind.None ? 1 : 0);
        }
    }

    // GETSET key value: SET key value GET (the value's time to live is dropped, as redis's GETSET does).
    private void GetSet(RespSession session, in RespRequest request)
    {
        if (TrySetWithoutDeadline(session, request, SetOptions.Get, out _, out int oldLength))
        {
            OldValue(session, oldLength);
        }
    }

    // The reply of SET ... GET and GETSET: the value the key had (left in the session's copy buffer), or nil.
    private static void OldValue(RespSession session, int oldLength)
    {
        if (oldLength >= 0)
        {
            session.Output.Bulk(session.Copy.AsSpan(0, oldLength));
        }
        else
        {
            session.Output.Null();
        }
    }

    // SET key value with `options` and no time to live (SETNX, GETSET): false when the store refused it (answered here).
    // The old value, for SetOptions.Get, is in the session's copy buffer (oldLength bytes; -1 when there was none).
    private bool TrySetWithoutDeadline(RespSession session, in RespRequest request, SetOptions options, out StoreWriteResult result, out int oldLength)
    {
        var mutation = new SetMutation(session, request[2], StoredValue.Never, options, RespNumbers.NowUnixMs());
        result = _node.Store.Mutate(request[1], ref mutation);
        oldLength = mutation.OldLength;
        if (!result.IsOk)
        {
            StoreError(session, result.Status, request[1].Length, request[2].Length);
            return false;
        }

        if (result.Kind != WriteKind.None)
        {
            Changed(session);
        }

        return true;
    }

    private void GetDel(RespSession session, in RespRequest request)
    {
        var mutation = new TakeMutation(session, copy: true, RespNumbers.NowUnixMs());
        StoreWriteResult result = _node.Store.Mutate(request[1], ref mutation);
        if (result.IsOk && result.Kind == WriteKind.Deleted)
        {
            Changed(session, deleted: true);
        }

        if (mutation.CopiedLength >= 0)
        {
            session.BatchHits++;
            session.Output.Bulk(session.Copy.AsSpan(0, mutation.CopiedLength));
        }
        else
        {
            session.BatchMisses++;
            session.Output.Null();
        }
    }

    // GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: without an option, a GET.
    private void GetEx(RespSession session, in RespRequest request)
    {
        if (request.Count == 2)
        {
            Get(session, request);
            return;
        }

        long deadline;
        if (request.Count == 3 && RespNumbers.Is(request[2], "PERSIST"u8))
        {
            deadline = StoredValue.Never;
        }
        else if (request.Count != 4 || ExpiryUnit(request[2]) is not { } unit)
        {
            session.Output.Error("ERR syntax error");
            return;
        }
        else if (!TryDeadline(session.Output, request[3], unit.Milliseconds, unit.Absolute, "getex", mustBePositive: true, out deadline))
        {
            return;
        }

        // PERSIST applies only to a key with a deadline (as PERSIST's own command); nothing written is answered below.
        var mutation = new ExpireMutation(session, deadline, deadline == StoredValue.Never ? ExpireCondition.IfAny : ExpireCondition.Always, RespNumbers.NowUnixMs(), copy: true);
        StoreWriteResult result = _node.Store.Mutate(request[1], ref mutation);
        if (!result.IsOk && result.Status != StoreStatus.NotFound)
        {
            StoreError(session, result.Status, request[1].Length, mutation.NewValue.Length);
            return;
        }

        if (!result.IsOk || result.Kind == WriteKind.None)
        {
            // Nothing written (no live key, or PERSIST of a key without a deadline): answered as GET answers, which
            // waits for a value not yet replicated.
            Get(session, request);
            return;
        }

        Changed(session, deleted: result.Kind == WriteKind.Deleted);
        session.BatchHits++;
        session.Output.Bulk(session.Copy.AsSpan(0, mutation.CopiedLength));
    }

    private void MSet(RespSession session, in RespRequest request)
    {
        if (request.Count % 2 == 0)
        {
            session.Output.Error("ERR wrong number of arguments for 'mset' command");
            return;
        }

        int written = 0;
        StoreWriteResult result = default;
        int i;
        for (i = 1; i < request.Count; i += 2)
        {
            ReadOnlySpan<byte> value = request[i + 1];
            result = StoredValue.NeedsPrefix(value, StoredValue.Never)
                ? _node.Store.Write(request[i], Encoded(session, value, StoredValue.Never))
                : _node.Store.Write(request[i], value);
            if (!result.IsOk)
            {
                break;
            }

            written++;
        }

        if (written > 0)
        {
            Changed(session, count: written);
        }

        if (!result.IsOk)
        {
            // Not atomic: the keys before this one are written (and replicated), the rest are not.
            StoreError(session, result.Status, request[i].Length, request[i + 1].Length);
            return;
        }

        session.Output.Ok();
    }

    private void IncrBy(RespSession session, in RespRequest request, long sign, bool fromArgument)
    {
        long delta = sign;
        if (fromArgument)
        {
            if (!RespNumbers.TryParse(request[2], out long amount))
            {
                session.Output.Error(RespNumbers.NotAnInteger);
                return;
            }

            if (sign < 0 && amount == long.MinValue)
            {
                session.Output.Error("ERR decrement would overflow");
                return;
            }

            delta = sign * amount;
        }

        var mutation = new IncrementMutation(session, delta, RespNumbers.NowUnixMs());
        StoreWriteResult result = _node.Store.Mutate(request[1], ref mutation);
        if (mutation.Error is { } error)
        {
            session.Output.Error(error);
            return;
        }

        if (!result.IsOk)
        {
            StoreError(session, result.Status, request[1].Length, 20);
            return;
        }

        Changed(session);
        session.Output.Integer(mutation.Result);
    }

    private void IncrByFloat(RespSession session, in RespRequest request)
    {
        if (!RespNumbers.TryParseFloat(request[2], out double delta))
        {
            session.Output.Error(RespNumbers.NotAFloat);
            return;
        }

        var mutation = new FloatIncrementMutation(session, delta, RespNumbers.NowUnixMs());
        StoreWriteResult result = _node.Store.Mutate(request[1], ref mutation);
        if (mutation.Error is { } error)
        {
            session.Output.Error(error);
            return;
        }

        if (!result.IsOk)
        {
            StoreError(session, result.Status, request[1].Length, mutation.DigitsLength);
            return;
        }

        Changed(session);
        session.Output.Bulk(mutation.Digits);
    }

    // APPEND key bytes | SETRANGE key offset bytes
    private void WriteRange(RespSession session, in RespRequest request, bool append)
    {
        long offset = 0;
        if (!append && (!RespNumbers.TryParse(request[2], out offset) || offset < 0))
        {
            session.Output.Error("ERR offset is out of range");
            return;
        }

        int max = _node.Store.Options.EffectiveMaxValueLength;
        ReadOnlySpan<byte> bytes = request[append ? 2 : 3];
        if (offset > max - (long)bytes.Length)
        {
            session.Output.Error(ValueTooLongError(offset + bytes.Length, max));
            return;
        }

        var mutation = new RangeWriteMutation(session, bytes, offset, append, max, RespNumbers.NowUnixMs());
        StoreWriteResult result = _node.Store.Mutate(request[1], ref mutation);
        if (mutation.TooLong)
        {
            session.Output.Error(ValueTooLongError(mutation.Length, max));
            return;
        }

        if (!result.IsOk)
        {
            StoreError(session, result.Status, request[1].Length, (int)mutation.Length);
            return;
        }

        if (result.Kind != WriteKind.None)
        {
            Changed(session);
        }

        session.Output.Integer(mutation.Length);
    }

    private static string ValueTooLongError(long length, int max) =>
        $"ERR string exceeds maximum allowed size (the value would have {length} bytes; the node's largest is {max}, --max-value-size)";

    private void GetRange(RespSession session, in RespRequest request)
    {
        if (!RespNumbers.TryParse(request[2], out long start) || !RespNumbers.TryParse(request[3], out long end))
        {
            session.Output.Error(RespNumbers.NotAnInteger);
            return;
        }

        var visitor = new RangeVisitor(session.Output, start, end);
        bool answered = _node.Store.TryVisit(request[1], ref visitor, out bool pending) && visitor.Answered;
        SawUnpublished(session, pending);
        if (!answered)
        {
            // redis: a missing key reads as an empty string.
            session.Output.Bulk(ReadOnlySpan<byte>.Empty);
        }
    }

    private void StrLen(RespSession session, in RespRequest request)
    {
        var visitor = new MetadataVisitor(RespNumbers.NowUnixMs());
        bool live = _node.Store.TryVisit(request[1], ref visitor, out bool pending) && visitor.Live;
        SawUnpublished(session, pending);
        session.Output.Integer(live ? visitor.Length : 0);
    }
}
