using System.Text;

namespace MirrorKv.Adapter.Resp;

/// <summary>The reply types, each encoded straight into the send queue (or the held buffer) in one piece.</summary>
internal sealed partial class RespOutput
{
    public void Ok() => Simple("OK"u8);

    public void Simple(ReadOnlySpan<byte> text) => End(RespEncoding.Line(Begin(text.Length + 3), (byte)'+', text));

    /// <summary>An error; the first word is its kind (ERR, READONLY, ...). Line breaks become spaces: a reply is one line.</summary>
    public void Error(string message)
    {
        int max = Encoding.UTF8.GetMaxByteCount(message.Length) + 3;
        Span<byte> span = Begin(max);
        span[0] = (byte)'-';
        int length = Encoding.UTF8.GetBytes(message, span[1..]);
        span.Slice(1, length).Replace((byte)'\r', (byte)' ');
        span.Slice(1, length).Replace((byte)'\n', (byte)' ');
        span[1 + length] = (byte)'\r';
        span[2 + length] = (byte)'\n';
        End(length + 3);
    }

    public void Integer(long value) => End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), (byte)':', value));

    public void Bulk(ReadOnlySpan<byte> value) => End(RespEncoding.Bulk(Begin(RespEncoding.MaxBulk(value.Length)), value));

    public void Bulk(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Span<byte> span = Begin(RespEncoding.MaxBulk(max));
        int length = Encoding.UTF8.GetBytes(value, span[RespEncoding.MaxNumberLine..]);
        int header = RespEncoding.Number(span, (byte)'$', length);
        span.Slice(RespEncoding.MaxNumberLine, length).CopyTo(span[header..]);
        span[header + length] = (byte)'\r';
        span[header + length + 1] = (byte)'\n';
        End(header + length + 2);
    }

    /// <summary>The null reply: "$-1" in RESP2, "_" in RESP3.</summary>
    public void Null()
    {
        if (Resp3)
        {
            End(RespEncoding.Line(Begin(3), (byte)'_', default));
        }
        else
        {
            End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), (byte)'$', -1));
        }
    }

    /// <summary>A null array (RESP2 <c>*-1</c>, RESP3 <c>_</c>): redis's "no such thing" where an array was due.</summary>
    public void NullArray()
    {
        if (Resp3)
        {
            Null();
        }
        else
        {
            End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), (byte)'*', -1));
        }
    }

    public void Array(int count) => End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), (byte)'*', count));

    /// <summary>An out-of-band message of <paramref name="count"/> items (pub/sub): ">" in RESP3, an array in RESP2.</summary>
    public void Push(int count) => End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), Resp3 ? (byte)'>' : (byte)'*', count));

    /// <summary>A map of <paramref name="pairs"/> key/value pairs: "%" in RESP3, a flat array in RESP2.</summary>
    public void Map(int pairs) => End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), Resp3 ? (byte)'%' : (byte)'*', Resp3 ? pairs : 2L * pairs));

    /// <summary>A set: "~" in RESP3, an array in RESP2.</summary>
    public void Set(int count) => End(RespEncoding.Number(Begin(RespEncoding.MaxNumberLine), Resp3 ? (byte)'~' : (byte)'*', count));

    /// <summary>Text for people (INFO, CLIENT INFO): a verbatim string in RESP3, a bulk string in RESP2.</summary>
    public void Verbatim(string text)
    {
        if (!Resp3)
        {
            Bulk(text);
            return;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(text);
        Span<byte> span = Begin(RespEncoding.MaxBulk(bytes.Length + 4));
        int header = RespEncoding.Number(span, (byte)'=', bytes.Length + 4);
        "txt:"u8.CopyTo(span[header..]);
        bytes.CopyTo(span[(header + 4)..]);
        span[header + 4 + bytes.Length] = (byte)'\r';
        span[header + 5 + bytes.Length] = (byte)'\n';
        End(header + bytes.Length + 6);
    }
}
