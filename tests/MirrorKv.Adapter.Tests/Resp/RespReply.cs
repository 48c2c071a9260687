using System.Buffers.Text;
using System.Text;

namespace MirrorKv.Adapter.Tests.Resp;

/// <summary>One RESP2 or RESP3 reply as a test sees it: its type byte and its content.</summary>
internal sealed record RespReply(char Type, string? Text = null, long Integer = 0, IReadOnlyList<RespReply>? Items = null, byte[]? Bytes = null)
{
    public bool IsNull => Type == '_' || (Type is '$' or '*' && Text is null && Items is null && Bytes is null);

    public bool IsError => Type == '-';

    /// <summary>A bulk, simple or verbatim string's text (verbatim without its "txt:" prefix).</summary>
    public string? String => Type == '=' ? Text?[4..] : Text;

    public override string ToString() => Type switch
    {
        '*' or '%' or '~' or '>' when Items is not null => $"{Type}[{string.Join(", ", Items)}]",
        ':' => $":{Integer}",
        _ when IsNull => "(nil)",
        _ => $"{Type}{Text}",
    };

    /// <summary>Parses one reply at <paramref name="offset"/>; null (offset unchanged) when it is not all there yet.</summary>
    public static RespReply? TryParse(ReadOnlySpan<byte> data, ref int offset)
    {
        int start = offset;
        RespReply? reply = Parse(data, ref offset);
        if (reply is null)
        {
            offset = start;
        }

        return reply;
    }

    private static RespReply? Parse(ReadOnlySpan<byte> data, ref int offset)
    {
        if (offset >= data.Length)
        {
            return null;
        }

        int lineEnd = data[offset..].IndexOf("\r\n"u8);
        if (lineEnd < 0)
        {
            return null;
        }

        char type = (char)data[offset];
        ReadOnlySpan<byte> line = data.Slice(offset + 1, lineEnd - 1);
        offset += lineEnd + 2;
        switch (type)
        {
            case '+' or '-':
                return new RespReply(type, Encoding.UTF8.GetString(line));
            case ':':
                return new RespReply(type, Integer: Number(line));
            case '_':
                return new RespReply(type);
            case '$' or '=':
                long length = Number(line);
                if (length < 0)
                {
                    return new RespReply(type);
                }

                if (data.Length - offset < length + 2)
                {
                    return null;
                }

                byte[] bytes = data.Slice(offset, (int)length).ToArray();
                offset += (int)length + 2;
                return new RespReply(type, Encoding.UTF8.GetString(bytes), Bytes: bytes);
            case '*' or '%' or '~' or '>':
                long count = Number(line);
                if (count < 0)
                {
                    return new RespReply(type);
                }

                var items = new List<RespReply>();
                for (long i = 0; i < (type == '%' ? 2 * count : count); i++)
                {
                    if (Parse(data, ref offset) is not { } item)
                    {
                        return null;
                    }

                    items.Add(item);
                }

                return new RespReply(type, Items: items);
            default:
                throw new InvalidDataException($"unexpected reply type '{type}'");
        }
    }

    private static long Number(ReadOnlySpan<byte> text) =>
        Utf8Parser.TryParse(text, out long value, out int used) && used == text.Length ? value : throw new InvalidDataException($"bad number '{Encoding.ASCII.GetString(text)}'");
}
