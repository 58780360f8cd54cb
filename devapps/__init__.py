"""Development stand-ins for the outside world, served beside ``make run``'s portal.

The ZORG-ID Mobile App (phones whose keys live in a SoftHSM token of their own) and the
ZORG-ID Desktop App (UZI-pas cards of the test UZI-register, and blank ZORG-ID
smartcards). Development only: built on ``testkit``, never installed with the engine.
"""
