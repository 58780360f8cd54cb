"""The ZORG-ID issuance engine: UZI verification, profiles, issuance, flows,
storage, audit, the gRPC servicers, the server and the ``zorgid`` CLI."""
