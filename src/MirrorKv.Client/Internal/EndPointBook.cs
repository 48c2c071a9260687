using System.Net;

namespace MirrorKv.Client;

/// <summary>
/// Every endpoint a client has been given or has learned from the nodes (HELLO, write replies), each once,
/// never forgotten: after both nodes died, the one that comes back may be any of them, at the address the
/// client was configured with or at one a node named. Also keeps the last answer from each, for the message
/// of an Unavailable error. Thread-safe; readers get an immutable snapshot.
/// </summary>
internal sealed class EndPointBook
{
    private readonly Lock _lock = new();
    private readonly Dictionary<EndPoint, string> _answers = [];
    private EndPoint[] _all;

    public EndPointBook(IEnumerable<EndPoint> configured) => _all = [.. configured.Distinct()];

    /// <summary>The endpoints: configured ones first, then learned ones in the order learned.</summary>
    public EndPoint[] Snapshot => Volatile.Read(ref _all);

    /// <summary>Adds an endpoint a node named; true when it was new.</summary>
    public bool Learn(IPEndPoint? endPoint)
    {
        // A node that listens on a wildcard address and advertises nothing better names no reachable place.
        if (endPoint is null || endPoint.Port == 0 || endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            return false;
        }

        lock (_lock)
        {
            if (Array.IndexOf(_all, endPoint) >= 0)
            {
                return false;
            }

            Volatile.Write(ref _all, [.. _all, endPoint]);
            return true;
        }
    }

    /// <summary>Records what an endpoint answered last ("Secondary at epoch 2", "connection refused").</summary>
    public void Note(EndPoint endPoint, string answer)
    {
        lock (_lock)
        {
            _answers[endPoint] = answer;
        }
    }

    /// <summary>Each endpoint with its last answer, for an error message.</summary>
    public string Describe()
    {
        lock (_lock)
        {
            return string.Join("; ", _all.Select(e => $"{MirrorKvEndPoints.Describe(e)}: {(_answers.TryGetValue(e, out string? a) ? a : "not tried yet")}"));
        }
    }
}
